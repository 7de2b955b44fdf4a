import { findDuplicateCheckpoints, HubClient, parseModelRef } from '@pythiajs/checkpoint-hub';
import type { Command } from 'commander';
import { trainingOrder } from '../revisions.js';
import { warn } from '../style.js';
import { formatTable } from '../table.js';

export function registerRefs(program: Command): void {
  program
    .command('refs')
    .description(
      "a repo's checkpoints (branches) in training order, warning where weights are identical",
    )
    .argument('<model>', 'Hub repo or Pythia name')
    .option('--no-check', 'skip the duplicate-weights check (one file listing per branch)')
    .option('--json', 'print JSON')
    .action(async (model: string, options: { check: boolean; json?: boolean }) => {
      const { repo } = parseModelRef(model);
      const client = new HubClient();
      const refs = await client.refs(repo);
      const commits = new Map(refs.map((r) => [r.name, r.commit]));
      const names = trainingOrder(refs.map((r) => r.name));
      const duplicates = options.check
        ? await findDuplicateCheckpoints(client, repo, names)
        : { identical: [], sharedFiles: [] };
      for (const group of duplicates.identical)
        warn(`${group.join(', ')} have identical weights (the Hub serves the same files)`);
      for (const file of duplicates.sharedFiles)
        warn(
          `${file.revisions.join(', ')} share ${file.path} (sha256 ${file.sha256.slice(0, 12)}…)`,
        );
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({
            model: repo,
            refs: names.map((name) => ({ name, commit: commits.get(name) })),
            identical_weights: duplicates.identical,
            shared_files: duplicates.sharedFiles,
          })}\n`,
        );
        return;
      }
      const sameAs = new Map<string, string>();
      for (const group of duplicates.identical)
        for (const name of group.slice(1)) sameAs.set(name, group[0]!);
      process.stdout.write(
        formatTable(
          ['branch', 'commit', 'weights'],
          names.map((name) => [
            name,
            commits.get(name)!.slice(0, 12),
            sameAs.has(name) ? `identical to ${sameAs.get(name)}` : '',
          ]),
        ),
      );
    });
}
