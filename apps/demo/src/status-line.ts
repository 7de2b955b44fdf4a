/** `idle`: nothing loaded yet; `loading`: a checkpoint is on its way; `ready`: a model runs. */
export type Status = 'idle' | 'loading' | 'ready' | 'error';

/**
 * What an error is about: the chosen model and checkpoint (it no longer applies once the
 * visitor picks another), or the page itself (no WebGPU, a broken `?hub=`), which stays.
 */
export type ErrorScope = 'selection' | 'page';

/**
 * The page's one status line, and the only place a loading error is shown, so the visitor
 * reads each error once. `data-state` lets tests and styles follow it.
 */
export function createStatusLine(element: HTMLElement) {
  // What the line said before an error: it says so again once the error no longer applies.
  let settled: { state: Exclude<Status, 'error'>; message: string } = {
    state: 'idle',
    message: element.textContent ?? '',
  };
  let errorScope: ErrorScope | undefined;
  const render = (state: Status, message: string) => {
    element.dataset.state = state;
    element.textContent = message;
  };
  return {
    show(state: Exclude<Status, 'error'>, message: string): void {
      settled = { state, message };
      // An error about the page stays for the page's life: no pick or load fixes it.
      if (errorScope === 'page') return;
      errorScope = undefined;
      render(state, message);
    },
    fail(message: string, scope: ErrorScope): void {
      // An error about the page outranks one about a checkpoint, which a pick cannot fix then.
      if (errorScope === 'page' && scope === 'selection') return;
      errorScope = scope;
      render('error', message);
    },
    /** The visitor picked another model or checkpoint: an error about the last one is stale. */
    selectionChanged(): void {
      if (errorScope !== 'selection') return;
      errorScope = undefined;
      render(settled.state, settled.message);
    },
  };
}
