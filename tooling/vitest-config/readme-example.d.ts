/** A fenced code block of a README. */
export interface ReadmeBlock {
  /** Its position among all the README's fenced blocks, from 0. */
  index: number;
  /** The fence's first word (`js`, `ts`, `bash` …); `''` for a bare fence. */
  language: string;
  /** The line of its opening fence, from 1. */
  line: number;
  code: string;
}

/** Every fenced code block of a README, in order. */
export function readmeExamples(readme: string | URL): ReadmeBlock[];

/** The first ```js or ```ts block of a README. */
export function readmeExample(readme: string | URL): ReadmeBlock & { language: 'js' | 'ts' };

/** What a README test does with one block: check it (run it, compile it …), or say why not. */
export type ReadmeBlockPlan =
  | { language: string; skip: string }
  | {
      language: string;
      /** The test's name after "block N (```lang, line L)". */
      name: string;
      test: (block: ReadmeBlock) => unknown;
      timeout?: number;
    };

/**
 * Registers one vitest test per fenced block of the README, as `plan` (by block index) says; a
 * block the plan does not name, or whose language differs from it, fails.
 */
export function checkReadmeBlocks(
  readme: string | URL,
  plan: Record<number, ReadmeBlockPlan>,
): void;

/**
 * Type-checks sources that are not on disk as files of `dir` (so a package's own name resolves
 * to its built types), strict, with no ambient types unless `types` names some. Returns the
 * diagnostics, empty when they compile.
 */
export function typecheckSources(
  dir: string | URL,
  files: Record<string, string>,
  options?: { types?: string[] },
): Promise<string[]>;

/** The command lines of a README's ```bash blocks, each with its trailing `# comment`. */
export function readmeShellLines(
  readme: string | URL,
): { command: string; comment: string | undefined }[];

/** The comments that say what each `console.log` line prints (1-based example lines). */
export function promisesOf(code: string): { line: number; text: string }[];

/** White space collapsed, and none next to brackets, so Node's output and a README's agree. */
export function normalizePrinted(text: string): string;

/** A promise as an expectation; `...` or `…` in it stands for anything. */
export function promiseMatcher(text: string): unknown;

/** What running a README's example gave. */
export interface ExampleRun {
  exitCode: number | null;
  /** What the example wrote to stdout itself; console.log output is in `logs`. */
  stdout: string;
  stderr: string;
  /** The example as run. */
  code: string;
  /** Every console.log call: the example line that made it and what it printed. */
  logs: { line: number; text: string }[];
  /** One expectation per promising comment, in order. */
  promised: unknown[];
  /** What each promising line printed, normalized; compare with `toEqual(run.promised)`. */
  printed: string[];
}

/**
 * Runs a package's README example (or the `js`/`ts` block `block`) in a child Node process, next to the README so the package's
 * own name resolves to it; `env` is merged over this process's (`undefined` removes a variable).
 */
export function runReadmeExample(
  readme: string | URL,
  options?: {
    env?: Record<string, string | undefined>;
    timeoutMs?: number;
    /** The index of the block to run (see readmeExamples); by default the first js/ts one. */
    block?: number;
    /** The package folder to run it in (for a page outside packages); default the README's. */
    dir?: string | URL;
  },
): Promise<ExampleRun>;
