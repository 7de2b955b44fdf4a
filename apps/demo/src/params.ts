import { DEFAULT_GPU_MEMORY, DTYPE_CHOICES, type DtypeChoice } from './dtype-fit.js';

/** What the page loads and runs, from its query string; links with these share a setup. */
export interface DemoParams {
  /** Base URL of a Hugging Face Hub (or a mirror serving the Hub's API and file layout). */
  hub: string;
  /** Repository id, `org/name`: any of the suite, or another GPT-NeoX repo. */
  model: string;
  /** Branch, tag or commit; Pythia's training checkpoints are branches such as `step143000`. */
  revision: string;
  /** The prompt: generation continues it, attention and the logit lens look inside it. */
  prompt: string;
  maxNewTokens: number;
  /** `0` is greedy. */
  temperature: number;
  /** `0` keeps every token. */
  topK: number;
  /** `1` keeps every token. */
  topP: number;
  seed: number;
  /** The weights to load: `auto` (the widest that fits), `f16`, or quantized `q8` or `q4`. */
  dtype: DtypeChoice;
  /**
   * Bytes of GPU memory assumed when judging what fits (`?gpu_memory=` in GiB): browsers do not
   * report it.
   */
  gpuMemory: number;
  /** Load, generate, analyse and run across training without a click (for tests and demos). */
  autorun: boolean;
  /** Which of hub, model and revision the URL gave (the others are defaults), for error advice. */
  given: { hub: boolean; model: boolean; revision: boolean };
}

export const DEFAULT_PARAMS: Readonly<DemoParams> = {
  hub: 'https://huggingface.co',
  model: 'EleutherAI/pythia-70m-deduped',
  revision: 'main',
  prompt: 'Hello, I am',
  maxNewTokens: 32,
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  seed: 0,
  dtype: 'auto',
  gpuMemory: DEFAULT_GPU_MEMORY,
  autorun: false,
  given: { hub: false, model: false, revision: false },
};

/** The longest continuation the page offers; a 2048-token context bounds it anyway. */
export const MAX_NEW_TOKENS_LIMIT = 1024;

type NumberParam = 'maxNewTokens' | 'temperature' | 'topK' | 'topP' | 'seed';

/** Query names (snake_case, as in Hugging Face's `generate`) and what each number may be. */
const NUMBERS: ReadonlyArray<readonly [NumberParam, string, (value: number) => boolean]> = [
  [
    'maxNewTokens',
    'max_new_tokens',
    (v) => Number.isInteger(v) && v >= 1 && v <= MAX_NEW_TOKENS_LIMIT,
  ],
  ['temperature', 'temperature', (v) => v >= 0],
  ['topK', 'top_k', (v) => Number.isInteger(v) && v >= 0],
  ['topP', 'top_p', (v) => v > 0 && v <= 1],
  ['seed', 'seed', (v) => Number.isSafeInteger(v)],
];

/**
 * Reads `?hub=&model=&revision=&prompt=&max_new_tokens=&temperature=&top_k=&top_p=&seed=&dtype=`
 * `&gpu_memory=&autorun=`;
 * absent or invalid values take their defaults, so a mistyped link still opens a working page.
 * An empty `prompt=` is kept, while an empty hub, model or revision could only make a broken
 * URL, so those fall back to the defaults.
 */
export function readParams(search: string): DemoParams {
  const query = new URLSearchParams(search);
  const given = (name: 'hub' | 'model' | 'revision') => query.get(name)?.trim() || undefined;
  const params: DemoParams = {
    ...DEFAULT_PARAMS,
    hub: given('hub') ?? DEFAULT_PARAMS.hub,
    model: given('model') ?? DEFAULT_PARAMS.model,
    revision: given('revision') ?? DEFAULT_PARAMS.revision,
    prompt: query.get('prompt') ?? DEFAULT_PARAMS.prompt,
    dtype: DTYPE_CHOICES.find((d) => d === query.get('dtype')?.trim().toLowerCase()) ?? 'auto',
    autorun: ['1', 'true', 'yes'].includes(query.get('autorun')?.toLowerCase() ?? ''),
    given: {
      hub: given('hub') !== undefined,
      model: given('model') !== undefined,
      revision: given('revision') !== undefined,
    },
  };
  for (const [key, name, valid] of NUMBERS) {
    const raw = query.get(name)?.trim();
    const value = raw ? Number(raw) : Number.NaN;
    if (Number.isFinite(value) && valid(value)) params[key] = value;
  }
  // GiB, as GPU memory is usually quoted; up to 1 TiB.
  const gib = Number(query.get('gpu_memory')?.trim() || Number.NaN);
  if (Number.isFinite(gib) && gib > 0 && gib <= 1024) params.gpuMemory = Math.round(gib * 2 ** 30);
  return params;
}
