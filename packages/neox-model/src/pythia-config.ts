import { PYTHIA_MODELS } from '@pythiajs/checkpoint-hub';
import { type NeoXConfig, parseNeoXConfig } from './config.js';
import { ForwardError } from './errors.js';

/**
 * The architecture of a Pythia model, as its `config.json` on the Hub describes it, without a
 * download: for random-weight benchmarks and memory estimates of any size.
 *
 * @example
 * ```ts
 * const config = pythiaConfig('pythia-410m'); // or '410m'
 * estimateMemory(config).weights; // 810 MB in f16
 * ```
 */
export function pythiaConfig(nameOrSize: string): NeoXConfig {
  const model = PYTHIA_MODELS.find((m) => m.name === nameOrSize || m.size === nameOrSize);
  if (!model) {
    throw new ForwardError(
      `${JSON.stringify(nameOrSize)} is not a Pythia model; one of ${PYTHIA_MODELS.map((m) => m.name).join(', ')}`,
    );
  }
  // Every Pythia size: MLP 4 × hidden, rotary_pct 0.25, parallel residual, exact GELU, 2048 context.
  return parseNeoXConfig({
    hidden_size: model.hiddenSize,
    num_attention_heads: model.numHeads,
    num_hidden_layers: model.numLayers,
    intermediate_size: 4 * model.hiddenSize,
    vocab_size: model.vocabSize,
    rotary_pct: 0.25,
    max_position_embeddings: 2048,
    use_parallel_residual: true,
    hidden_act: 'gelu',
  });
}
