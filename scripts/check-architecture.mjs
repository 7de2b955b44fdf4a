// Enforces docs/architecture.md: which workspace package may import which. Checks both what each
// package.json declares and what its src/ actually imports. Run by `pnpm lint`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Allowed @pythiajs imports per package; keep in sync with docs/architecture.md. */
const ALLOWED = {
  '@pythiajs/tokenizer': [],
  '@pythiajs/sampler': [],
  '@pythiajs/checkpoint-hub': [],
  '@pythiajs/tensor-core': [],
  '@pythiajs/neox-model': [
    '@pythiajs/tensor-core',
    '@pythiajs/checkpoint-hub',
    '@pythiajs/sampler',
  ],
  '@pythiajs/cli': ['*'],
  '@pythiajs/demo': ['*'],
};
const TOOLING = new Set(['@pythiajs/tsconfig', '@pythiajs/vitest-config']);
const APPS = new Set(['@pythiajs/cli', '@pythiajs/demo']);

const root = new URL('..', import.meta.url).pathname;
const problems = [];

function sources(dir) {
  let out = [];
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(sources(path));
    else if (/\.(ts|tsx|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

for (const group of ['packages', 'apps']) {
  for (const folder of readdirSync(join(root, group))) {
    const dir = join(root, group, folder);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const allowed = ALLOWED[pkg.name];
    if (!allowed) {
      problems.push(
        `${pkg.name} (${group}/${folder}) is not in docs/architecture.md; add it there and here`,
      );
      continue;
    }
    const ok = (dep) => (allowed.includes('*') ? !APPS.has(dep) : allowed.includes(dep));
    // Runtime dependencies only: a package's tests may use any package (e.g. the model's tests
    // decode with the tokenizer), which ships with neither.
    const declared = { ...pkg.dependencies, ...pkg.peerDependencies };
    for (const dep of Object.keys(declared)) {
      if (dep.startsWith('@pythiajs/') && !TOOLING.has(dep) && !ok(dep)) {
        problems.push(`${pkg.name} depends on ${dep}, which docs/architecture.md does not allow`);
      }
    }
    for (const file of sources(join(dir, 'src'))) {
      // Comments hold usage examples that import the package itself: leave them out.
      const text = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*['"](@pythiajs\/[^/'"]+)/g)) {
        if (!ok(spec))
          problems.push(
            `${file.slice(root.length)} imports ${spec}, which ${pkg.name} may not import`,
          );
        else if (!pkg.dependencies?.[spec] && !pkg.peerDependencies?.[spec]) {
          problems.push(
            `${file.slice(root.length)} imports ${spec}, missing from ${pkg.name}'s dependencies`,
          );
        }
      }
    }
  }
}

if (problems.length > 0) {
  console.error(`architecture check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('architecture check: every import follows docs/architecture.md');
