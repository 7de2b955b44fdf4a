// Enforces docs/architecture.md: which workspace package may import which (what each package.json
// declares and what its src/ actually imports), and that Node's globals stay out of code that runs
// in browsers. Run by `pnpm lint`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

/** Allowed @pythiajs imports per package; keep in sync with docs/architecture.md. */
const ALLOWED = {
  '@pythiajs/tokenizer': [],
  '@pythiajs/sampler': [],
  '@pythiajs/evals': [],
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

// ---- Node's globals stay out of code that runs in browsers (docs/architecture.md, Conventions).
// A `/// <reference types="node" />` anywhere in a TypeScript program makes `Buffer`, `process`
// and friends visible to all of it, so such a line in a Node-only file let browser files use them
// unnoticed. Node-only code gets Node's types from its own tsconfig instead.
const NODE_ONLY = /^(apps\/cli\/src|packages\/[^/]+\/src\/(node|testing))\//;
for (const group of ['packages', 'apps']) {
  for (const folder of readdirSync(join(root, group))) {
    for (const file of sources(join(root, group, folder, 'src'))) {
      const path = relative(root, file);
      if (NODE_ONLY.test(path)) continue;
      if (/^\s*\/\/\/\s*<reference\s+types=["']node["']/m.test(readFileSync(file, 'utf8'))) {
        problems.push(
          `${path} references Node's types, which then reach every file compiled with it; ` +
            'Node-only code belongs in src/node or src/testing, built with types: ["node"]',
        );
      }
    }
  }
}

// And each package's (and the demo's) browser build must reject Node's globals: a probe that uses them, compiled
// in that project, has to fail. A Node project must accept it, or the probe proves nothing.
const PROBE = 'export const probe = [Buffer.byteLength("x"), process.env.HOME, __dirname];\n';
const NODE_GLOBALS = ['Buffer', 'process', '__dirname'];
const libFiles = new Map(); // lib.dom.d.ts and friends, parsed once for every project
function nodeGlobalsSeenBy(configPath) {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => problems.push(`${configPath}: ${d.messageText}`),
    },
  );
  const probe = join(dirname(configPath), 'src', '__node-globals-probe__.ts');
  const options = { ...parsed.options, noEmit: true, composite: false, incremental: false };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) => {
    if (name === probe) return ts.createSourceFile(name, PROBE, language);
    if (!name.includes('/node_modules/')) return read(name, language, ...rest);
    const key = `${name}:${JSON.stringify(language)}`;
    if (!libFiles.has(key)) libFiles.set(key, read(name, language, ...rest));
    return libFiles.get(key);
  };
  const program = ts.createProgram({
    rootNames: [...parsed.fileNames, probe],
    options,
    host,
    projectReferences: parsed.projectReferences,
  });
  const missing = new Set(
    program
      .getSemanticDiagnostics(program.getSourceFile(probe))
      .map((d) =>
        /Cannot find name '(\w+)'/.exec(ts.flattenDiagnosticMessageText(d.messageText, ' ')),
      )
      .filter(Boolean)
      .map((m) => m[1]),
  );
  return {
    nodeProject: parsed.options.types?.includes('node') ?? false,
    seen: NODE_GLOBALS.filter((name) => !missing.has(name)),
  };
}
// The demo site's code runs in browsers too: its src is a project of its own for that reason,
// which must stay one (no Node types declared in it either).
const browserCodeDirs = [
  ...readdirSync(join(root, 'packages')).map((folder) => join(root, 'packages', folder)),
  join(root, 'apps', 'demo'),
];
const BROWSER_PROJECTS = ['apps/demo/tsconfig.app.json'];
for (const path of BROWSER_PROJECTS) {
  if (!existsSync(join(root, path))) problems.push(`${path} is missing: the demo's src project`);
}
for (const dir of browserCodeDirs) {
  for (const name of readdirSync(dir).filter((n) => /^tsconfig\..+\.json$/.test(n))) {
    const configPath = join(dir, name);
    const { config } = ts.readConfigFile(configPath, ts.sys.readFile);
    if (config.files?.length === 0) continue; // a solution file: only references
    const { nodeProject, seen } = nodeGlobalsSeenBy(configPath);
    if (nodeProject && BROWSER_PROJECTS.includes(relative(root, configPath))) {
      problems.push(
        `${relative(root, configPath)} compiles code that runs in browsers, so it must not list ` +
          '"node" in its types; Node-only files (tests, configs) belong in tsconfig.node.json',
      );
    } else if (nodeProject && seen.length < NODE_GLOBALS.length) {
      problems.push(
        `${relative(root, configPath)}: the Node-globals probe failed in a Node project`,
      );
    } else if (!nodeProject && seen.length > 0) {
      problems.push(
        `${relative(root, configPath)} builds browser code yet lets it use Node's ${seen.join(', ')}; ` +
          "find what brings in Node's types (a reference directive, a types entry) and remove it",
      );
    }
  }
}

if (problems.length > 0) {
  console.error(`architecture check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(
  "architecture check: every import follows docs/architecture.md; Node's globals stay out of browser code",
);
