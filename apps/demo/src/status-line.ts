/** `idle`: nothing loaded yet; `loading`: a checkpoint is on its way; `ready`: a model runs. */
export type Status = 'idle' | 'loading' | 'ready' | 'error';

/** Shows what the page is doing; `data-state` lets tests and styles follow it. */
export function setStatus(element: HTMLElement, state: Status, message: string): void {
  element.dataset.state = state;
  element.textContent = message;
}
