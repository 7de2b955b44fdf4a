import { InvalidModelRefError } from './errors.js';

/** One model of the Pythia suite, with its architecture from the GPT-NeoX training config. */
export interface PythiaModel {
  /** Repo name under `EleutherAI/`, e.g. `pythia-70m-deduped`. */
  name: string;
  /** Size label, e.g. `70m`. */
  size: string;
  /** Trained on the deduplicated Pile. */
  deduped: boolean;
  numLayers: number;
  hiddenSize: number;
  numHeads: number;
  /** Width of the logits: the tokenizer's 50277 ids padded for tensor parallelism. */
  vocabSize: number;
}

// From EleutherAI's training configs (num-layers, hidden-size, num-attention-heads); all sizes use
// rotary_pct 0.25, parallel residual and a 2048-token context.
const SIZES: ReadonlyArray<readonly [string, number, number, number, number, boolean]> = [
  // size, layers, hidden, heads, vocab, has a deduped twin
  ['14m', 6, 128, 4, 50304, false],
  ['31m', 6, 256, 8, 50304, false],
  ['70m', 6, 512, 8, 50304, true],
  ['160m', 12, 768, 12, 50304, true],
  ['410m', 24, 1024, 16, 50304, true],
  ['1b', 16, 2048, 8, 50304, true],
  ['1.4b', 24, 2048, 16, 50304, true],
  ['2.8b', 32, 2560, 32, 50304, true],
  ['6.9b', 32, 4096, 32, 50432, true],
  ['12b', 36, 5120, 40, 50688, true],
];

/** Every model of the suite: 10 sizes, 8 of them also trained on the deduplicated Pile. */
export const PYTHIA_MODELS: readonly PythiaModel[] = SIZES.flatMap(
  ([size, numLayers, hiddenSize, numHeads, vocabSize, twin]) => {
    const base = { size, numLayers, hiddenSize, numHeads, vocabSize };
    const standard: PythiaModel = { name: `pythia-${size}`, deduped: false, ...base };
    return twin
      ? [standard, { ...standard, name: `pythia-${size}-deduped`, deduped: true }]
      : [standard];
  },
);

/** The organisation that publishes the suite on the Hugging Face Hub. */
export const PYTHIA_ORG = 'EleutherAI';

/** Steps of the 154 published checkpoints: 0, 1, 2, 4, …, 512 (log-spaced), then 1000 … 143000. */
export function pythiaCheckpointSteps(): number[] {
  const steps = [0];
  for (let step = 1; step <= 512; step *= 2) steps.push(step);
  for (let step = 1000; step <= 143000; step += 1000) steps.push(step);
  return steps;
}

/**
 * The 154 checkpoint revisions every Pythia repo publishes as branches, in training order:
 * `step0`, `step1`, `step2`, `step4` … `step512`, `step1000` … `step143000` (`main` equals
 * `step143000`).
 *
 * @example
 * ```ts
 * pythiaCheckpoints().length; // 154
 * pythiaCheckpoints().slice(0, 4); // ['step0', 'step1', 'step2', 'step4']
 * ```
 */
export function pythiaCheckpoints(): string[] {
  return pythiaCheckpointSteps().map((step) => `step${step}`);
}

/** A model on the Hub and the revision (branch, tag or commit) to load. */
export interface ModelRef {
  /** `owner/name`, e.g. `EleutherAI/pythia-70m-deduped`. */
  repo: string;
  /** Branch, tag or commit; `main` unless given. */
  revision: string;
}

const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Reads `pythia-70m-deduped@step3000`, `EleutherAI/pythia-70m`, `org/any-model@commit` …
 * Bare Pythia names get the `EleutherAI/` organisation; the revision defaults to `main`.
 *
 * @example
 * ```ts
 * parseModelRef('pythia-70m-deduped@step3000');
 * // { repo: 'EleutherAI/pythia-70m-deduped', revision: 'step3000' }
 * ```
 * @throws {InvalidModelRefError} the text is not a model reference.
 */
export function parseModelRef(ref: string): ModelRef {
  const text = ref.trim();
  const at = text.lastIndexOf('@');
  const repoPart = at === -1 ? text : text.slice(0, at);
  const revision = at === -1 ? 'main' : text.slice(at + 1);
  if (at !== -1 && revision === '')
    throw new InvalidModelRefError(ref, 'the revision after "@" is empty');
  if (/\s/.test(revision)) throw new InvalidModelRefError(ref, 'the revision contains whitespace');
  const parts = repoPart.split('/');
  if (parts.length > 2 || parts.some((p) => !REPO_PART.test(p))) {
    throw new InvalidModelRefError(
      ref,
      'a repo is "name" or "owner/name" of letters, digits, ".", "_" and "-"',
    );
  }
  if (parts.length === 1) {
    const name = parts[0]!;
    if (!PYTHIA_MODELS.some((m) => m.name === name)) {
      throw new InvalidModelRefError(
        ref,
        `"${name}" is not a Pythia model; give the owner too ("owner/${name}")`,
      );
    }
    return { repo: `${PYTHIA_ORG}/${name}`, revision };
  }
  return { repo: parts.join('/'), revision };
}

/** The suite's entry for a repo such as `EleutherAI/pythia-160m`, if it is one. */
export function pythiaModel(repo: string): PythiaModel | undefined {
  const [owner, name] = repo.split('/');
  return owner === PYTHIA_ORG ? PYTHIA_MODELS.find((m) => m.name === name) : undefined;
}
