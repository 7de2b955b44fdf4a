import { PYTHIA_MODELS, PYTHIA_ORG } from '@pythiajs/checkpoint-hub';
import { checkpointScale, SLIDER_MAX } from '../checkpoint-scale.js';
import { stepOf } from '../checkpoints.js';
import { h } from '../dom.js';
import { describeFit, type Fit } from '../dtype-fit.js';
import type { SliderOffer } from '../slider-offer.js';

export interface ModelPickerElements {
  select: HTMLSelectElement;
  slider: HTMLInputElement;
  label: HTMLElement;
  ticks: HTMLElement;
  note: HTMLElement;
}

export interface Selection {
  repo: string;
  revision: string;
}

/** Arrow keys step by checkpoint, not by one of the track's fine positions. */
const KEY_STEPS: Readonly<Record<string, number>> = {
  ArrowRight: 1,
  ArrowUp: 1,
  ArrowLeft: -1,
  ArrowDown: -1,
  PageUp: 10,
  PageDown: -10,
};

/**
 * The model list (the whole suite, plus the `?model=` repo when it is another) and the slider
 * over the checkpoints {@link SliderOffer} gives for the chosen repo, those in the browser cache
 * marked. `onChange` hears each change the visitor makes; `offer` changes nothing it reports.
 */
export function mountModelPicker(
  elements: ModelPickerElements,
  initial: Selection,
  onChange: (selection: Selection) => void,
) {
  const { select, slider, label, ticks, note } = elements;
  const suite = PYTHIA_MODELS.map((m) => `${PYTHIA_ORG}/${m.name}`);
  const options = suite.includes(initial.repo) ? suite : [initial.repo, ...suite];
  const labels = new Map(
    options.map((repo) => {
      const model = PYTHIA_MODELS.find((m) => `${PYTHIA_ORG}/${m.name}` === repo);
      const text = model
        ? `${model.name} (${model.numLayers} layers, ${model.hiddenSize} wide)`
        : `${repo} (from ?model=)`;
      return [repo, text] as const;
    }),
  );
  select.replaceChildren(...[...labels].map(([repo, text]) => h('option', { value: repo }, text)));
  select.value = initial.repo;
  slider.max = String(SLIDER_MAX);

  // A revision the slider does not offer (a commit from the URL) is kept until the slider moves.
  let revision = initial.revision;
  let offered: SliderOffer = { revisions: [], cached: new Set(), revision, note: '' };
  let scale = checkpointScale([]);
  const selection = (): Selection => ({ repo: select.value, revision });
  const indexOf = () => offered.revisions.indexOf(revision);

  const describe = () => {
    const index = indexOf();
    const step = stepOf(revision);
    const lastStep = Math.max(...offered.revisions.map((r) => stepOf(r) ?? 0));
    const name =
      revision === 'main'
        ? 'main, the trained model'
        : step !== undefined && step <= lastStep
          ? `step ${step.toLocaleString('en')} of ${lastStep.toLocaleString('en')}`
          : revision;
    const cached = offered.cached.has(revision);
    const text =
      (index === -1 ? name : `${name} (checkpoint ${index + 1} of ${offered.revisions.length})`) +
      (cached ? ' · cached' : '');
    label.textContent = text;
    label.dataset.revision = revision;
    label.dataset.cached = String(cached);
    slider.dataset.checkpoint = String(index);
    slider.setAttribute('aria-valuetext', text);
  };
  const placeThumb = () => {
    const index = indexOf();
    slider.value = String(index === -1 ? SLIDER_MAX : scale.positions[index]!);
  };
  const draw = () => {
    const at = (position: number) => `--at: ${position / SLIDER_MAX}`;
    ticks.replaceChildren(
      ...scale.ticks.map(({ position, label: text }) =>
        h('span', { class: text ? 'tick labelled' : 'tick', style: at(position) }, text ?? ''),
      ),
      ...offered.revisions.flatMap((name, index) =>
        offered.cached.has(name)
          ? [
              h('span', {
                class: 'cached-mark',
                style: at(scale.positions[index]!),
                title: `${name}: cached in this browser`,
                'data-revision': name,
              }),
            ]
          : [],
      ),
    );
    note.textContent = offered.note;
    slider.disabled = offered.revisions.length === 0;
  };
  const choose = (next: number) => {
    const index = Math.min(offered.revisions.length - 1, Math.max(0, next));
    const chosen = offered.revisions[index];
    if (chosen === undefined || chosen === revision) return;
    revision = chosen;
    describe();
    onChange(selection());
  };

  slider.addEventListener('input', () => choose(scale.nearest(Number(slider.value))));
  // Dropped between two checkpoints, the thumb moves onto the one chosen.
  slider.addEventListener('change', placeThumb);
  slider.addEventListener('keydown', (event) => {
    const delta = KEY_STEPS[event.key];
    if (delta === undefined) return;
    event.preventDefault();
    const index = indexOf();
    // Off the slider, a key first lands on the checkpoint under the thumb.
    choose(index === -1 ? scale.nearest(Number(slider.value)) : index + delta);
    placeThumb();
  });
  select.addEventListener('change', () => onChange(selection()));

  const show = (next: SliderOffer) => {
    offered = next;
    scale = checkpointScale(next.revisions);
    revision = next.revision;
    draw();
    placeThumb();
    describe();
  };
  show(offered);
  return {
    selection,
    /**
     * Says after each model of the list whether it runs here and in which dtype (`fitOf` gives
     * undefined for a repo whose config is unknown before a download).
     */
    showFits(fitOf: (repo: string) => Fit | undefined) {
      for (const option of select.options) {
        const fit = fitOf(option.value);
        const label = labels.get(option.value) ?? option.value;
        option.textContent = fit ? `${label} — ${describeFit(fit)}` : label;
        if (fit) {
          option.dataset.fits = String(fit.fits);
          option.dataset.dtype = fit.dtype;
          option.dataset.bytes = String(fit.bytes);
        }
      }
    },
    /** Shows what the slider offers for the chosen repo, and selects `offer.revision`. */
    offer: show,
  };
}
