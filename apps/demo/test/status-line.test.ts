import { describe, expect, it } from 'vitest';
import { createStatusLine } from '../src/status-line.js';

/** The two things the status line writes: its text and `data-state`. */
function fakeElement() {
  return { textContent: 'Starting…', dataset: {} as Record<string, string> };
}

describe('the status line', () => {
  it('clears an error about the selection once another is picked, saying again what runs', () => {
    const element = fakeElement();
    const status = createStatusLine(element as unknown as HTMLElement);
    status.show('ready', 'Ready: main.');
    status.fail('X has no revision step7.', 'selection');
    expect(element).toEqual({
      textContent: 'X has no revision step7.',
      dataset: { state: 'error' },
    });
    status.selectionChanged();
    expect(element).toEqual({ textContent: 'Ready: main.', dataset: { state: 'ready' } });
  });

  it('keeps an error about the page whatever is picked or loaded', () => {
    const element = fakeElement();
    const status = createStatusLine(element as unknown as HTMLElement);
    status.fail('No WebGPU here.', 'page');
    status.selectionChanged();
    status.fail('The Hub did not answer.', 'selection');
    status.show('idle', 'Pick a model.');
    expect(element).toEqual({ textContent: 'No WebGPU here.', dataset: { state: 'error' } });
  });
});
