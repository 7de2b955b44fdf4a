import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const LOGGER = new URL('./readme-example-logs.js', import.meta.url).href;

/**
 * The example of a README: its first fenced code block in JavaScript or TypeScript.
 *
 * @param {string | URL} readme
 * @returns {{ language: 'js' | 'ts'; code: string }}
 */
export function readmeExample(readme) {
  const text = readFileSync(readme, 'utf8');
  for (const [, language, code] of text.matchAll(/^```(js|ts)\n([\s\S]*?)^```/gm)) {
    return { language: /** @type {'js' | 'ts'} */ (language), code: /** @type {string} */ (code) };
  }
  throw new Error(`${readme} has no \`\`\`js or \`\`\`ts code block`);
}

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
 * @param {{ env?: Record<string, string | undefined>; timeoutMs?: number }} [options] `env` is
 *   merged over this process's environment (`undefined` removes a variable).
 */
export async function runReadmeExample(readme, options = {}) {
  const { language, code } = readmeExample(readme);
  const dir = dirname(readme instanceof URL ? fileURLToPath(readme) : readme);
  const file = join(dir, 'readme-example.tmp.mjs');
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
