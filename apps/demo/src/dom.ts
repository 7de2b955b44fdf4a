/** The page's element with `data-testid`; index.html owns the markup, views fill it. */
export function byTestId<T extends HTMLElement = HTMLElement>(testId: string): T {
  const found = document.querySelector<T>(`[data-testid="${testId}"]`);
  if (!found) throw new Error(`index.html lacks [data-testid="${testId}"]`);
  return found;
}

type Attributes = Record<string, string | number | boolean | undefined>;

/**
 * A new element: `attributes` become attributes (`class`, `title`, `data-*`, `aria-*`; `true`
 * sets an empty one, `false`/`undefined` none), `children` are appended, strings as text.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children);
  return element;
}
