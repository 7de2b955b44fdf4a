import { parseModelRef } from '@pythiajs/checkpoint-hub';
import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { formatBytes } from '../format.js';
import { bytesBar } from '../progress.js';
import { repoBranches } from '../revisions.js';

interface DownloadOptions {
  revision?: string;
  allRevisions?: boolean;
  json?: boolean;
}

export function registerDownload(program: Command): void {
  program
    .command('download')
    .description(
      'download checkpoints into the Hugging Face cache (shared with Python), for offline use',
    )
    .argument('<model>', 'Hub repo or pythia-70m-deduped@step3000 shorthand')
    .option('--revision <rev>', 'branch or commit (default: main)')
    .option(
      '--all-revisions',
      'every branch of the repo: the training checkpoints (stepN), then main',
    )
    .option('--json', 'print one JSON object when done')
    .action(async (model: string, options: DownloadOptions) => {
      const ref = parseModelRef(model);
      if (options.allRevisions && (options.revision !== undefined || model.includes('@')))
        throw new UsageError('give a revision or --all-revisions, not both');
      if (
        model.includes('@') &&
        options.revision !== undefined &&
        options.revision !== ref.revision
      )
        throw new UsageError(
          `${model} names revision ${ref.revision} and --revision says ${options.revision}; give one`,
        );
      const cache = new NodeHubCache();
      const revisions = options.allRevisions
        ? await repoBranches(ref.repo)
        : [options.revision ?? ref.revision];
      const done: Array<{ revision: string; commit: string; files: number; bytes: number }> = [];
      for (const revision of revisions) {
        const commit = await cache.resolve(ref.repo, revision);
        const files = await cache.files(ref.repo, revision);
        const total = files.reduce((n, f) => n + f.size, 0);
        const bar = bytesBar(`${ref.repo}@${revision}`);
        let finished = 0;
        try {
          // Every file, as huggingface_hub's snapshot_download: a later offline run finds what it needs.
          for (const file of files) {
            await cache.file(ref.repo, revision, file.path, {
              onProgress: (p) => bar.update(finished + p.loaded, total),
            });
            finished += file.size;
            bar.update(finished, total);
          }
        } finally {
          bar.stop();
        }
        done.push({ revision, commit, files: files.length, bytes: total });
        if (!options.json) {
          process.stdout.write(
            `${ref.repo}@${revision} (${commit.slice(0, 12)}): ${files.length} files, ${formatBytes(total)}\n`,
          );
        }
      }
      if (options.json)
        process.stdout.write(
          `${JSON.stringify({ model: ref.repo, cache: cache.dir, revisions: done })}\n`,
        );
      else process.stdout.write(`in ${cache.dir}\n`);
    });
}
