import type { NeoXConfig } from '@pythiajs/neox-model';
import type { Tokenizer } from '@pythiajs/tokenizer';
import { UsageError } from './errors.js';
import { showToken, tokenLabel } from './token-label.js';

/**
 * A token given on the command line (`lens --token`, `sweep --lens-token`): an id when it is
 * digits, else a text that must encode to exactly one token. `option` names the option in the
 * message.
 *
 * @throws {UsageError} a text of no token or of several.
 */
export function chosenToken(tokenizer: Tokenizer, value: string, option: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const ids = tokenizer.encode(value);
  if (ids.length !== 1) {
    const shown = ids.map((id) => showToken(tokenLabel(tokenizer, id))).join(' ');
    throw new UsageError(
      `${option} ${JSON.stringify(value)} is ${ids.length} tokens${ids.length > 0 ? ` (${shown})` : ''}, ` +
        'not one; give a single token (with its leading space, e.g. " Paris") or its id',
    );
  }
  return ids[0]!;
}

/**
 * Refuses a chosen token outside a model's vocabulary (an id is only checked against a model's
 * config, which comes before its weights are downloaded).
 *
 * @throws {UsageError} `token` ≥ the vocabulary's size.
 */
export function checkChosenToken(token: number, config: NeoXConfig, option: string): void {
  if (token >= config.vocabSize) {
    throw new UsageError(
      `${option} ${token} is outside the model's vocabulary of ${config.vocabSize} ids`,
    );
  }
}

/** A probability with 3 significant digits, small ones in exponent form (1.2e-5). */
export function formatProbability(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}
