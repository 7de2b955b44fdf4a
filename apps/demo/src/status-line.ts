export type Status = 'loading' | 'ready' | 'error';

/** Shows what the page is doing; `data-state` lets tests and styles follow it. */
export function setStatus(element: HTMLElement, state: Status, message: string): void {
  element.dataset.state = state;
  element.textContent = message;
}
