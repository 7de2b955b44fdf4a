import { PYTHIA_MODELS, PYTHIA_ORG } from '@pythiajs/checkpoint-hub';
import {
  CHECKPOINTS,
  checkpointAt,
  checkpointIndex,
  SLIDER_MAX,
  sliderPosition,
  sliderTicks,
  stepOf,
} from '../checkpoints.js';
import { h } from '../dom.js';

export interface ModelPickerElements {
  select: HTMLSelectElement;
  slider: HTMLInputElement;
  label: HTMLElement;
  ticks: HTMLElement;
}

export interface Selection {
  repo: string;
  revision: string;
}

/**
 * The model list (the whole suite, plus the `?model=` repo when it is another) and the slider
 * over the 154 training checkpoints. `onChange` hears every change of repo or revision.
 */
export function mountModelPicker(
  elements: ModelPickerElements,
  initial: Selection,
  onChange: (selection: Selection) => void,
): { selection(): Selection } {
  const { select, slider, label, ticks } = elements;
  const suite = PYTHIA_MODELS.map((m) => `${PYTHIA_ORG}/${m.name}`);
  const options = suite.includes(initial.repo) ? suite : [initial.repo, ...suite];
  select.replaceChildren(
    ...options.map((repo) => {
      const model = PYTHIA_MODELS.find((m) => `${PYTHIA_ORG}/${m.name}` === repo);
      const text = model
        ? `${model.name} (${model.numLayers} layers, ${model.hiddenSize} wide)`
        : `${repo} (from ?model=)`;
      return h('option', { value: repo }, text);
    }),
  );
  select.value = initial.repo;

  slider.max = String(SLIDER_MAX);
  ticks.replaceChildren(
    ...sliderTicks().map(({ position, label: text }) =>
      h(
        'span',
        { class: text ? 'tick labelled' : 'tick', style: `--at: ${position / SLIDER_MAX}` },
        text ?? '',
      ),
    ),
  );

  // A revision off the slider (a commit, a custom branch) is kept until the slider moves.
  let revision = initial.revision;
  let index = checkpointIndex(revision) ?? CHECKPOINTS.length - 1;
  slider.value = String(sliderPosition(index));
  const describe = () => {
    const step = stepOf(revision);
    const text =
      revision === 'main'
        ? 'main (the trained model, step 143000)'
        : step !== undefined
          ? `step ${step.toLocaleString('en')} of 143,000 (checkpoint ${index + 1} of ${CHECKPOINTS.length})`
          : revision;
    label.textContent = text;
    label.dataset.revision = revision;
    slider.dataset.checkpoint = String(index);
    slider.setAttribute('aria-valuetext', text);
  };
  const choose = (next: number) => {
    index = Math.min(CHECKPOINTS.length - 1, Math.max(0, next));
    revision = CHECKPOINTS[index]!;
    describe();
    onChange({ repo: select.value, revision });
  };
  describe();

  slider.addEventListener('input', () => choose(checkpointAt(Number(slider.value))));
  // Dropped between two checkpoints, the thumb moves onto the one chosen.
  slider.addEventListener('change', () => {
    slider.value = String(sliderPosition(index));
  });
  // Arrow keys step by checkpoint, not by one of the track's fine positions.
  const keySteps: Record<string, number> = {
    ArrowRight: 1,
    ArrowUp: 1,
    ArrowLeft: -1,
    ArrowDown: -1,
    PageUp: 10,
    PageDown: -10,
  };
  slider.addEventListener('keydown', (event) => {
    const delta = keySteps[event.key];
    if (delta === undefined) return;
    event.preventDefault();
    choose(index + delta);
    slider.value = String(sliderPosition(index));
  });
  select.addEventListener('change', () => onChange({ repo: select.value, revision }));
  return { selection: () => ({ repo: select.value, revision }) };
}
