import type { BrowserCachedRevision, BrowserHubCache } from '@pythiajs/checkpoint-hub';
import { h } from '../dom.js';
import { formatBytes } from '../format.js';

export interface StorageElements {
  list: HTMLElement;
  usage: HTMLElement;
}

/**
 * The browser cache's checkpoints, each with its size and a delete button. The page reads the
 * same storage the worker writes (one origin, one Cache API), so no message is needed.
 * `onDelete` hears each deletion, for the other views that show what is cached.
 */
export function createStorageView(
  cache: BrowserHubCache,
  elements: StorageElements,
  onDelete: () => void,
) {
  const { list, usage } = elements;

  const refresh = async (): Promise<BrowserCachedRevision[]> => {
    const revisions = await cache.list();
    list.replaceChildren(
      ...revisions.map((revision) => {
        const name = revision.refs.length > 0 ? revision.refs.join(', ') : 'commit';
        const label = `${revision.repo} @ ${name}`;
        const remove = h(
          'button',
          { type: 'button', class: 'delete', 'aria-label': `Delete ${label}` },
          'Delete',
        );
        remove.addEventListener('click', async () => {
          remove.disabled = true;
          // By commit: the cache then needs no Hub to know what to delete.
          await cache.remove(revision.repo, revision.commit);
          onDelete();
          await refresh();
        });
        return h(
          'li',
          { 'data-repo': revision.repo, 'data-commit': revision.commit },
          h('span', { class: 'storage-name' }, label),
          h(
            'span',
            { class: 'storage-meta' },
            `${revision.commit.slice(0, 7)} · ${formatBytes(revision.size)}` +
              (revision.complete ? '' : ' · partial'),
          ),
          remove,
        );
      }),
    );
    list.dataset.count = String(revisions.length);
    if (revisions.length === 0) list.append(h('li', { class: 'empty' }, 'Nothing cached.'));
    const estimate = await cache.estimate();
    usage.textContent = estimate
      ? `This site uses ${formatBytes(estimate.usage)} of ${formatBytes(estimate.quota)} the browser allows (${cache.storageKind}).`
      : '';
    return revisions;
  };
  return { refresh };
}
