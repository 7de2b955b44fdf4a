import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const LOGGER = new URL('./readme-example-logs.js', import.meta.url).href;

/**
 * Every fenced code block of a README, in order: its language (the fence's first word, `''` for a
 * bare fence), its index among all the README's blocks, the line of its opening fence (1-based)
 * and its code. A README test hands these to {@link checkReadmeBlocks}, so that a block added
 * to the README fails its test until the test runs it or says why it does not.
 *
 * @param {string | URL} readme
 * @returns {ReadmeBlock[]}
 */
export function readmeExamples(readme) {
  const text = readFileSync(readme, 'utf8');
  const blocks = [];
  for (const match of text.matchAll(/^```([\w+-]*)[^\n]*\n([\s\S]*?)^```[ \t]*$/gm)) {
    blocks.push({
      index: blocks.length,
      language: /** @type {string} */ (match[1]),
      line: text.slice(0, match.index).split('\n').length,
      code: /** @type {string} */ (match[2]),
    });
  }
  return blocks;
}

/** @typedef {{ index: number; language: string; line: number; code: string }} ReadmeBlock */

/**
 * The example of a README: its first fenced code block in JavaScript or TypeScript.
 *
 * @param {string | URL} readme
 * @returns {ReadmeBlock & { language: 'js' | 'ts' }}
 */
export function readmeExample(readme) {
  const found = readmeExamples(readme).find((b) => b.language === 'js' || b.language === 'ts');
  if (!found) throw new Error(`${readme} has no \`\`\`js or \`\`\`ts code block`);
  return /** @type {ReadmeBlock & { language: 'js' | 'ts' }} */ (found);
}

/**
 * One test per fenced block of a README, and one that fails for a block the plan does not name.
 * `plan` says, by block index, what happens to each block: `test` checks it (runs it, compiles
 * it …), or `skip` says why it is not run (an install command, a table of measurements). The
 * language must match too, so that a block inserted before others shifts them and fails.
 *
 * @param {string | URL} readme
 * @param {Record<number, ReadmeBlockPlan>} plan
 */
export function checkReadmeBlocks(readme, plan) {
  const blocks = readmeExamples(readme);
  const file = relative(process.cwd(), readme instanceof URL ? fileURLToPath(readme) : readme);
  for (const block of blocks) {
    const entry = plan[block.index];
    const where = `block ${block.index} (\`\`\`${block.language || '(none)'}, line ${block.line})`;
    if (!entry) {
      it(`${where} is run or classified`, () => {
        throw new Error(
          `${where} of ${file} is neither run nor classified: add it to the test's plan, ` +
            'with a `test` that runs or compiles it, or a `skip` that says why it is not run',
        );
      });
      continue;
    }
    const checkLanguage = () => expect(block.language, `${where}: language`).toBe(entry.language);
    if ('skip' in entry) {
      it(`${where} is not run: ${entry.skip}`, checkLanguage);
    } else {
      it(
        `${where} ${entry.name}`,
        async () => {
          checkLanguage();
          await entry.test(block);
        },
        entry.timeout,
      );
    }
  }
  const extra = Object.keys(plan)
    .map(Number)
    .filter((i) => i >= blocks.length);
  if (extra.length > 0) {
    it('plans no block the README lacks', () => {
      throw new Error(`${file} has ${blocks.length} code blocks; the plan names ${extra}`);
    });
  }
}

/**
 * @typedef {{ language: string; skip: string }
 *   | { language: string; name: string; test: (block: ReadmeBlock) => unknown; timeout?: number }}
 *   ReadmeBlockPlan
 */

/**
 * The command lines of a README's ```bash blocks, each with its trailing `# comment` (what it
 * prints, or a note), for READMEs whose example is a command.
 *
 * @param {string | URL} readme
 * @returns {{ command: string; comment: string | undefined }[]}
 */
export function readmeShellLines(readme) {
  const text = readFileSync(readme, 'utf8');
  const lines = [];
  for (const [, block] of text.matchAll(/^```bash\n([\s\S]*?)^```/gm)) {
    for (const line of /** @type {string} */ (block).split('\n')) {
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
      const at = commentStart(line);
      lines.push({
        command: line.slice(0, at).trim(),
        comment: at < line.length ? line.slice(at).replace(/^#\s?/, '').trim() : undefined,
      });
    }
  }
  return lines;
}

/**
 * Where a shell line's comment starts (its length if none): the first `#` outside quotes that
 * follows white space.
 *
 * @param {string} line
 */
function commentStart(line) {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && /\s/.test(line[i - 1] ?? ' ')) {
      return i;
    }
  }
  return line.length;
}

/**
 * What an example promises to print: the comment after a `console.log(…);` on its line, or, when
 * it has none there, the comment lines right below it. `line` is 1-based within the example.
 *
 * @param {string} code
 * @returns {{ line: number; text: string }[]}
 */
export function promisesOf(code) {
  const lines = code.split('\n');
  const promises = [];
  lines.forEach((source, i) => {
    if (!source.includes('console.log(')) return;
    const trailing = /\);\s*\/\/ ?(.*)$/.exec(source);
    if (trailing) {
      promises.push({ line: i + 1, text: /** @type {string} */ (trailing[1]) });
      return;
    }
    const below = [];
    for (let j = i + 1; j < lines.length; j++) {
      const comment = /^\s*\/\/ ?(.*)$/.exec(/** @type {string} */ (lines[j]));
      if (!comment) break;
      below.push(comment[1]);
    }
    if (below.length > 0) promises.push({ line: i + 1, text: below.join(' ') });
  });
  return promises;
}

/**
 * Printed text and promised text compare after this: runs of white space become one space, and
 * none is kept next to a bracket, so `[ 1, 2 ]` (Node) and `[1, 2]` (a README) agree.
 *
 * @param {string} text
 */
export function normalizePrinted(text) {
  return text
    .replace(/\s+/g, ' ')
    .replace(/\s*([[\]{}()])\s*/g, '$1')
    .trim();
}

/**
 * A promise as a vitest expectation: the normalized text, where `...` or `…` stands for anything
 * (`-0.46077...` for the digits that follow, `'…'` for a commit id).
 *
 * @param {string} text
 * @returns {unknown}
 */
export function promiseMatcher(text) {
  const normalized = normalizePrinted(text);
  const parts = normalized.split(/\.\.\.|…/);
  if (parts.length === 1) return normalized;
  const escaped = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return expect.stringMatching(new RegExp(`^${escaped.join('.*')}$`, 's'));
}

/** Examples run by this process, to name each one's file uniquely. */
let examplesRun = 0;

/**
 * Runs a package's README example as a user would, in a child Node process: written next to the
 * README, so that the package's own name resolves to its built `dist` (self-reference) and its
 * dependencies to its `node_modules`; a TypeScript example is first stripped of types by esbuild
 * (source-mapped, so lines stay the README's). Every console.log call is recorded with the line
 * that made it (see readme-example-logs.js).
 *
 * `printed[i]` is what the line of `promised[i]` printed, so a test checks the example with
 * `expect(run.printed).toEqual(run.promised)`.
 *
 * @param {string | URL} readme
 * @param {{ env?: Record<string, string | undefined>; timeoutMs?: number; block?: number; dir?: string | URL }} [options]
 *   `env` is merged over this process's environment (`undefined` removes a variable); `block`
 *   is the index (see {@link readmeExamples}) of the block to run, by default the first `js` or
 *   `ts` one; `dir` is the package folder to run it in, for a page outside any package (a
 *   guide in `docs/`), by default the README's own folder.
 */
export async function runReadmeExample(readme, options = {}) {
  const { language, code } =
    options.block === undefined ? readmeExample(readme) : blockToRun(readme, options.block);
  const where = options.dir ?? dirname(readme instanceof URL ? fileURLToPath(readme) : readme);
  const dir = where instanceof URL ? fileURLToPath(where) : where;
  // Unique: two pages may run examples in one package folder at once (test files run in parallel).
  const file = join(dir, `readme-example-${process.pid}-${++examplesRun}.tmp.mjs`);
  const scratch = mkdtempSync(join(tmpdir(), 'readme-example-'));
  const log = join(scratch, 'console-log.jsonl');
  try {
    writeFileSync(file, language === 'ts' ? await stripTypes(code, file) : code);
    const env = {
      ...process.env,
      ...options.env,
      README_EXAMPLE_LOG: log,
      README_EXAMPLE_FILE: file,
    };
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
    const result = await run(
      ['--enable-source-maps', '--import', LOGGER, file],
      dir,
      /** @type {Record<string, string>} */ (env),
      options.timeoutMs ?? 110_000,
    );
    const logs = existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => /** @type {{ line: number; text: string }} */ (JSON.parse(l)))
      : [];
    const promises = promisesOf(code);
    return {
      ...result,
      code,
      logs,
      promised: promises.map((p) => promiseMatcher(p.text)),
      printed: promises.map((p) => {
        const texts = logs.filter((l) => l.line === p.line).map((l) => normalizePrinted(l.text));
        return texts.length > 0 ? texts.join('\n') : `(line ${p.line} printed nothing)`;
      }),
    };
  } finally {
    rmSync(file, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** @param {string | URL} readme @param {number} index */
function blockToRun(readme, index) {
  const block = readmeExamples(readme)[index];
  if (block?.language !== 'js' && block?.language !== 'ts') {
    throw new Error(`${readme}: block ${index} is not a \`\`\`js or \`\`\`ts block`);
  }
  return block;
}

/**
 * Type-checks TypeScript sources that are not on disk, as if they were files in `dir` (a
 * package's folder, so that its own name resolves to its built types), under the workspace's
 * strict settings with no ambient types (`types: []`). Returns the diagnostics as
 * `file(line,col): message` lines, empty when it compiles.
 *
 * @param {string | URL} dir
 * @param {Record<string, string>} files file names (relative to `dir`) and their text
 * @param {{ types?: string[] }} [options] ambient type packages to include (`["node"]`, …)
 */
export async function typecheckSources(dir, files, options = {}) {
  // The workspace's own compiler (a root devDependency), loaded only by the tests that need it.
  const { default: ts } = await import('typescript');
  const base = dir instanceof URL ? fileURLToPath(dir) : dir;
  const virtual = new Map(Object.entries(files).map(([name, text]) => [join(base, name), text]));
  const compilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    skipLibCheck: true,
    types: options.types ?? [],
  };
  const host = ts.createCompilerHost(compilerOptions);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => virtual.has(name) || fileExists.call(host, name);
  host.readFile = (name) => virtual.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const text = virtual.get(name);
    return text === undefined
      ? getSourceFile.call(host, name, language, ...rest)
      : ts.createSourceFile(name, text, language);
  };
  const program = ts.createProgram([...virtual.keys()], compilerOptions, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return message;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${relative(base, d.file.fileName)}(${line + 1},${character + 1}): ${message}`;
  });
}

/** @param {string} code @param {string} file */
async function stripTypes(code, file) {
  const { transform } = await import('esbuild');
  const out = await transform(code, {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: file,
  });
  return out.code;
}

/**
 * Asynchronous, so that a Hub stand-in served by the test process keeps answering meanwhile.
 *
 * @param {string[]} args @param {string} cwd @param {Record<string, string>} env
 * @param {number} timeoutMs
 * @returns {Promise<{ exitCode: number | null; stdout: string; stderr: string }>}
 */
function run(args, cwd, env, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout, stderr });
    });
  });
}
