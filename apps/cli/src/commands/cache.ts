import { parseModelRef } from '@pythiajs/checkpoint-hub';
import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { formatBytes } from '../format.js';
import { formatTable } from '../table.js';

export function registerCache(program: Command): void {
  const cache = program
    .command('cache')
    .description('list, remove or verify the checkpoints in the Hugging Face cache');

  cache
    .command('ls')
    .description('cached repos, their revisions and sizes')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const store = new NodeHubCache();
      const repos = await store.list();
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ cache: store.dir, repos })}\n`);
        return;
      }
      if (repos.length === 0) {
        process.stdout.write(`nothing cached in ${store.dir}\n`);
        return;
      }
      const rows = repos.flatMap((r) =>
        r.revisions.map((v) => [
          r.repo,
          v.refs.join(',') || '–',
          v.commit.slice(0, 12),
          formatBytes(v.size),
        ]),
      );
      process.stdout.write(formatTable(['repo', 'refs', 'commit', 'size'], rows));
      const total = repos.reduce((n, r) => n + r.size, 0);
      process.stdout.write(`${formatBytes(total)} on disk in ${store.dir}\n`);
    });

  cache
    .command('rm')
    .description('remove a cached repo, or one revision of it (blobs other revisions use are kept)')
    .argument('<model>', 'repo, optionally @revision (pythia-70m-deduped@step3000)')
    .option('--revision <rev>', 'only this revision')
    .option('--json', 'print JSON')
    .action(async (model: string, options: { revision?: string; json?: boolean }) => {
      const ref = parseModelRef(model);
      const revision = options.revision ?? (model.includes('@') ? ref.revision : undefined);
      const store = new NodeHubCache();
      const cached = (await store.list()).find((r) => r.repo === ref.repo);
      if (!cached)
        throw new UsageError(`${ref.repo} is not in the cache (${store.dir}); see pythia cache ls`);
      if (
        revision !== undefined &&
        !cached.revisions.some((v) => v.refs.includes(revision) || v.commit === revision)
      )
        throw new UsageError(`${ref.repo}@${revision} is not in the cache; see pythia cache ls`);
      const freed = await store.remove(ref.repo, revision);
      const what = revision === undefined ? ref.repo : `${ref.repo}@${revision}`;
      process.stdout.write(
        options.json
          ? `${JSON.stringify({ removed: what, freed_bytes: freed })}\n`
          : `removed ${what}, freed ${formatBytes(freed)}\n`,
      );
    });

  cache
    .command('verify')
    .description('re-hash every cached file against its checksum (exit 1 when one is damaged)')
    .argument('[model]', 'only this repo')
    .option('--json', 'print JSON')
    .action(async (model: string | undefined, options: { json?: boolean }) => {
      const repo = model === undefined ? undefined : parseModelRef(model).repo;
      const store = new NodeHubCache();
      const problems = await store.verify(repo);
      if (options.json) process.stdout.write(`${JSON.stringify({ cache: store.dir, problems })}\n`);
      else for (const p of problems) process.stdout.write(`${p.repo}  ${p.blob}  ${p.problem}\n`);
      const damaged = problems.filter((p) => !p.blob.endsWith('.incomplete'));
      if (damaged.length > 0) {
        throw new Error(
          `${damaged.length} cached file${damaged.length === 1 ? ' is' : 's are'} damaged; remove ${damaged.length === 1 ? 'its' : 'their'} repo with pythia cache rm and download again`,
        );
      }
      if (!options.json) process.stdout.write(`cache OK (${store.dir})\n`);
    });
}
