/** The first ```js or ```ts block of a README. */
export function readmeExample(readme: string | URL): { language: 'js' | 'ts'; code: string };

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
 * Runs a package's README example in a child Node process, next to the README so the package's
 * own name resolves to it; `env` is merged over this process's (`undefined` removes a variable).
 */
export function runReadmeExample(
  readme: string | URL,
  options?: { env?: Record<string, string | undefined>; timeoutMs?: number },
): Promise<ExampleRun>;
