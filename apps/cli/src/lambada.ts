import { type NeoXModel, scoreTokens } from '@pythiajs/neox-model';
import { argmax, logSoftmaxAt } from '@pythiajs/sampler';
import type { Tokenizer } from '@pythiajs/tokenizer';
import { UsageError } from './errors.js';

/** One LAMBADA example as lm-evaluation-harness's `lambada_openai` task poses it. */
export interface LambadaRequest {
  /** The passage up to the last word (tokens). */
  context: number[];
  /** The last word with its leading space (tokens): what the model must predict. */
  target: number[];
}

/**
 * Splits a passage as `lambada_openai` does: context = every word but the last joined by spaces,
 * target = " " + the last word (words split on single spaces). Then as the harness's
 * `_encode_pair`: trailing whitespace of the context moves to the target, the two are encoded
 * together and the target's tokens are what follows the context's own encoding.
 */
export function lambadaRequest(text: string, tokenizer: Pick<Tokenizer, 'encode'>): LambadaRequest {
  const words = text.split(' ');
  let context = words.slice(0, -1).join(' ');
  let target = ` ${words.at(-1)}`;
  const spaces = context.length - context.trimEnd().length;
  if (spaces > 0) {
    target = context.slice(-spaces) + target;
    context = context.slice(0, -spaces);
  }
  const whole = tokenizer.encode(context + target);
  // An empty context is the end-of-text token, as the harness does for any model.
  if (context === '') return { context: [0], target: tokenizer.encode(target) };
  const contextIds = tokenizer.encode(context);
  return { context: contextIds, target: whole.slice(contextIds.length) };
}

/** The passages of a LAMBADA JSONL file (`{"text": …}` per line). */
export function parseLambadaJsonl(jsonl: string, file: string): string[] {
  const texts: string[] = [];
  for (const [n, line] of jsonl.split('\n').entries()) {
    if (line.trim() === '') continue;
    let text: unknown;
    try {
      text = (JSON.parse(line) as { text?: unknown }).text;
    } catch {
      throw new UsageError(
        `${file}:${n + 1} is not JSON; LAMBADA files have one {"text": …} per line`,
      );
    }
    if (typeof text !== 'string')
      throw new UsageError(
        `${file}:${n + 1} has no "text" string; LAMBADA files have one {"text": …} per line`,
      );
    texts.push(text);
  }
  if (texts.length === 0) throw new UsageError(`${file} holds no examples`);
  return texts;
}

/** The model's answer to one request: the target's log-likelihood and whether greedy decoding gives it. */
export interface LambadaResult {
  logprob: number;
  greedy: boolean;
}

/**
 * Scores requests as the harness's `loglikelihood`, as one packed batch: the input of each is
 * context + target without its last token, cut to the last `maxPositions` tokens; the target's
 * tokens are read from the last rows (log-softmax over the full, padded vocabulary, as the
 * harness does), and greedy means each row's first maximum is its target token.
 *
 * The log-softmax and the maximum are taken on the GPU (`scoreTokens`), so only a few numbers
 * per token come back. `scoreTokens` scores each row against the next token of the sequence it is
 * given, so a request that fits the context is given whole (context + target): its rows are the
 * input's, and the last one is scored against the last target token. One that does not fit is
 * given as its input, whose last row then has no next token there: that row's logits alone are
 * read back (one more pass over the input, for a request no LAMBADA passage comes near).
 */
export async function scoreLambada(
  model: NeoXModel,
  requests: readonly LambadaRequest[],
): Promise<LambadaResult[]> {
  const maxPositions = model.config.maxPositions;
  const inputs = requests.map((r) => [...r.context, ...r.target].slice(-(maxPositions + 1), -1));
  // An input shorter than the context is the whole request less its last token.
  const scores = await scoreTokens(
    model,
    requests.map((r, i) => {
      const input = inputs[i]!;
      return input.length < maxPositions ? [...input, r.target.at(-1)!] : input;
    }),
  );
  const results: LambadaResult[] = [];
  for (const [i, request] of requests.entries()) {
    const input = inputs[i]!;
    const { logprob: logprobs, argmax: argmaxes } = scores[i]!;
    const n = request.target.length;
    let logprob = 0;
    let greedy = true;
    for (let j = 0; j < n; j++) {
      // Row `input.length − n + j` of the input predicts target[j]; scoreTokens' entry t is row t.
      const row = input.length - n + j;
      const id = request.target[j]!;
      if (row < logprobs.length) {
        logprob += logprobs[row]!;
        // scoreTokens' argmax is the lowest id among equal maxima: the row's first maximum.
        greedy &&= argmaxes[row] === id;
      } else {
        const logitsRow = await model.forward(input, { logits: 'last' });
        logprob += logSoftmaxAt(logitsRow, id);
        greedy &&= argmax(logitsRow) === id;
      }
    }
    results.push({ logprob, greedy });
  }
  return results;
}

/** lm-evaluation-harness's aggregates: mean accuracy (with its standard error) and exp(−mean log-likelihood). */
export function lambadaMetrics(results: readonly LambadaResult[]): {
  acc: number;
  acc_stderr: number;
  perplexity: number;
} {
  const n = results.length;
  const acc = results.filter((r) => r.greedy).length / n;
  const meanLogprob = results.reduce((s, r) => s + r.logprob, 0) / n;
  // The harness's mean_stderr: sample standard deviation (n − 1) over √n.
  const variance =
    n > 1 ? results.reduce((s, r) => s + ((r.greedy ? 1 : 0) - acc) ** 2, 0) / (n - 1) : 0;
  return { acc, acc_stderr: Math.sqrt(variance / n), perplexity: Math.exp(-meanLogprob) };
}
