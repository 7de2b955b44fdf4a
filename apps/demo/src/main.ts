import './style.css';
import { BrowserHubCache, HubClient, pythiaModel } from '@pythiajs/checkpoint-hub';
import { readBranches } from './branch-list.js';
import { SUITE_ACROSS_TRAINING, spreadOverTraining } from './checkpoints.js';
import { byTestId } from './dom.js';
import {
  type AdapterLimits,
  autoDtype,
  DTYPE_CHOICES,
  type DtypeChoice,
  dtypeNote,
  suiteConfig,
} from './dtype-fit.js';
import { explainError, explainEvalError, hubProblem, namedError } from './explain-error.js';
import { formatBytes, formatSeconds } from './format.js';
import { ModelClient } from './model-client.js';
import { readParams } from './params.js';
import { type BranchList, type Chosen, sliderOffer } from './slider-offer.js';
import { createStatusLine } from './status-line.js';
import { createAcrossTrainingView } from './views/across-training-view.js';
import { renderAttention } from './views/attention-view.js';
import { createEvalView } from './views/eval-view.js';
import { createGenerationView } from './views/generation-view.js';
import { renderLens } from './views/lens-view.js';
import { renderModelInfo } from './views/model-info.js';
import { mountModelPicker, type Selection } from './views/model-picker.js';
import { createProgressView } from './views/progress-view.js';
import { createStorageView } from './views/storage-view.js';
import { renderTokens } from './views/tokens-view.js';
import { mountWebGpuStatus } from './views/webgpu-status.js';
import type { ModelSource } from './worker/protocol.js';

const params = readParams(location.search);
const status = createStatusLine(byTestId('status'));
const PICK_AND_LOAD = 'Pick a model and a checkpoint, then load it.';
const buttons = {
  load: byTestId<HTMLButtonElement>('load'),
  generate: byTestId<HTMLButtonElement>('generate'),
  stop: byTestId<HTMLButtonElement>('stop'),
  analyze: byTestId<HTMLButtonElement>('analyze'),
  across: byTestId<HTMLButtonElement>('run-across'),
  evaluate: byTestId<HTMLButtonElement>('run-eval'),
};
const loadHint = byTestId('load-hint');
const dtypeSelect = byTestId<HTMLSelectElement>('dtype-select');
dtypeSelect.value = params.dtype;
const dtypeNoteLine = byTestId('dtype-note');
/** The adapter's limits, once WebGPU answers: what the dtype fit is judged against. */
let adapterLimits: AdapterLimits | undefined;
const chosenDtype = (): DtypeChoice =>
  DTYPE_CHOICES.find((choice) => choice === dtypeSelect.value) ?? 'auto';
/** Says what the dtype choice loads for the chosen repo, and the estimate. */
function describeDtype(): void {
  const { repo } = picker.selection();
  dtypeNoteLine.textContent = dtypeNote(
    suiteConfig(repo),
    chosenDtype(),
    adapterLimits,
    params.gpuMemory,
  );
}
const revisionsInput = byTestId<HTMLInputElement>('revisions');
const worker = ModelClient.start();

const picker = mountModelPicker(
  {
    select: byTestId<HTMLSelectElement>('model-select'),
    slider: byTestId<HTMLInputElement>('checkpoint'),
    label: byTestId('checkpoint-label'),
    ticks: byTestId('checkpoint-ticks'),
    note: byTestId('checkpoint-note'),
  },
  { repo: params.model, revision: params.revision },
  (selection) => selectionChanged(selection),
);
const progress = createProgressView({
  root: byTestId('progress'),
  bar: byTestId('progress').querySelector('progress')!,
  file: byTestId('progress-file'),
  total: byTestId('progress-total'),
  gpu: byTestId('progress-gpu'),
});
const generation = createGenerationView(
  {
    prompt: byTestId<HTMLTextAreaElement>('prompt'),
    temperature: byTestId<HTMLInputElement>('temperature'),
    topK: byTestId<HTMLInputElement>('top-k'),
    topP: byTestId<HTMLInputElement>('top-p'),
    maxNewTokens: byTestId<HTMLInputElement>('max-new-tokens'),
    seed: byTestId<HTMLInputElement>('seed'),
    generate: buttons.generate,
    stop: buttons.stop,
    echo: byTestId('prompt-echo'),
    output: byTestId('output'),
    speed: byTestId('speed'),
  },
  { ...params, text: params.prompt },
);
const across = createAcrossTrainingView(byTestId('across-training'), byTestId('across-status'));
const evaluations = createEvalView({
  task: byTestId<HTMLSelectElement>('eval-task'),
  metric: byTestId<HTMLSelectElement>('eval-metric'),
  examples: byTestId<HTMLInputElement>('eval-examples'),
  run: buttons.evaluate,
  plot: byTestId('eval-plot'),
  note: byTestId('eval-note'),
  status: byTestId('eval-status'),
  documents: byTestId('eval-documents'),
});
evaluations.setChosen(picker.selection().repo);
const storage = BrowserHubCache.create({ client: new HubClient({ endpoint: params.hub }) }).then(
  (cache) =>
    createStorageView(
      cache,
      { list: byTestId('storage'), usage: byTestId('storage-usage') },
      // A deleted checkpoint loses its mark on the slider, and offline its place there.
      async () => {
        if (await refreshCached()) selectionChanged(picker.selection());
      },
    ),
);

/** What runs now; buttons follow it so that nothing is queued behind a long task by accident. */
const state = {
  loaded: false,
  loading: false,
  generating: false,
  analyzing: false,
  across: false,
  evaluating: false,
};
function updateButtons(): void {
  // Loading, "across training" and a live evaluation hold the worker for long: nothing else is
  // offered meanwhile.
  const busy = state.loading || state.across || state.evaluating;
  const idle = state.loaded && !busy;
  buttons.load.disabled = busy;
  buttons.generate.disabled = !idle || state.generating;
  buttons.stop.disabled = !state.generating;
  buttons.analyze.disabled = !idle || state.analyzing;
  buttons.across.disabled = !idle;
  buttons.evaluate.disabled = !idle;
}

const sourceOf = (selection: Selection): ModelSource => ({
  hub: params.hub,
  repo: selection.repo,
  revision: selection.revision,
});
const sameSelection = (a: Selection, b: Selection) =>
  a.repo === b.repo && a.revision === b.revision;
/** Which parts of a selection the visitor gave in the URL (not picked on the page). */
const fromUrl = (selection: Selection) => ({
  hub: params.given.hub,
  model: params.given.model && selection.repo === params.model,
  revision:
    params.given.revision &&
    selection.repo === params.model &&
    selection.revision === params.revision,
});
/** Any failure (a worker error, or one the page hit itself) as advice for this selection. */
const explain = (error: unknown, selection: Selection = picker.selection()) =>
  explainError(namedError(error), { ...sourceOf(selection), fromUrl: fromUrl(selection) });

/** The branch list the slider was drawn from, kept to redraw it when the cache changes. */
let shown: { repo: string; list: BranchList } = { repo: '', list: { state: 'loading' } };
const chosen = (): Chosen => {
  const selection = picker.selection();
  return { revision: selection.revision, fromUrl: fromUrl(selection).revision };
};

/** Offers a repo's own branches on the slider (cached ones only until the Hub lists them). */
async function listCheckpoints(repo: string): Promise<void> {
  shown = { repo, list: { state: 'loading' } };
  picker.offer(sliderOffer(shown.list, [], chosen()));
  const branches = readBranches(params.hub, repo);
  await refreshCached();
  const list = await branches;
  // The visitor may have picked another model meanwhile: its own list is on its way.
  if (shown.repo !== repo) return;
  shown = { repo, list };
  await refreshCached();
  suggestRevisions(repo, list);
}

/**
 * Marks again which checkpoints the browser has cached, after a load or a deletion. Returns
 * whether the selection moved (offline, a deleted checkpoint is no longer offered).
 */
async function refreshCached(): Promise<boolean> {
  const { repo, list } = shown;
  if (!repo) return false;
  const cached = await worker.call('cachedCheckpoints', { hub: params.hub, repo }).catch(() => []);
  if (shown.list !== list) return false;
  const before = picker.selection();
  picker.offer(sliderOffer(list, cached, chosen()));
  return !sameSelection(before, picker.selection());
}

/**
 * Shows why the selection cannot be loaded. Once the visitor picks another, the line goes back
 * to what runs: the loaded model, or with none, the invitation to pick one.
 */
function failSelection(error: unknown, selection: Selection): void {
  if (!state.loaded && !state.loading) status.show('idle', PICK_AND_LOAD);
  status.fail(explain(error, selection), 'selection');
}

/** Lists the chosen revision (no weights) to say what loading it costs. */
async function prepare(selection: Selection): Promise<{ cached: boolean; ok: boolean }> {
  const prepared = await worker.call('prepare', sourceOf(selection));
  // Answers about a selection the visitor has left are not shown.
  if (!sameSelection(selection, picker.selection())) return { cached: false, ok: false };
  if (prepared.problem) {
    failSelection(prepared.problem, selection);
    return { cached: false, ok: false };
  }
  loadHint.textContent = prepared.cached
    ? 'In the browser cache: loads without the network.'
    : `${formatBytes(prepared.downloadBytes)} to download.`;
  return { cached: prepared.cached, ok: true };
}

let selectionTimer: ReturnType<typeof setTimeout> | undefined;
/** Prepares the selection once the slider rests: it fires on every step it passes. */
function prepareSoon(): void {
  clearTimeout(selectionTimer);
  selectionTimer = setTimeout(() => {
    const selection = picker.selection();
    void prepare(selection).catch((error) => failSelection(error, selection));
  }, 300);
}

function selectionChanged(selection: Selection): void {
  // What was said about the previous selection (its error, its size) no longer applies.
  status.selectionChanged();
  evaluations.setChosen(selection.repo);
  loadHint.textContent = '';
  describeDtype();
  if (selection.repo === shown.repo) prepareSoon();
  // Another model: its own branches first, so that the revision prepared is one it has.
  else void listCheckpoints(selection.repo).then(prepareSoon);
}

async function load(): Promise<boolean> {
  const selection = picker.selection();
  const source = sourceOf(selection);
  state.loading = true;
  updateButtons();
  status.show('loading', `Loading ${source.repo} @ ${source.revision}…`);
  progress.start();
  // The worker frees the model it holds before it loads another.
  evaluations.setLoaded(undefined);
  try {
    const prepared = await worker.call('prepare', source);
    if (prepared.problem) throw prepared.problem;
    const info = await worker.call(
      'load',
      { ...source, dtype: chosenDtype(), gpuMemory: params.gpuMemory },
      (event) => progress.update(event),
    );
    renderModelInfo(byTestId('model-info'), info);
    loadHint.textContent = 'In the browser cache: loads without the network.';
    state.loaded = true;
    evaluations.setLoaded({ repo: info.repo, revision: info.revision });
    status.show(
      'ready',
      `Ready: ${info.repo} @ ${info.revision} (commit ${info.commit.slice(0, 7)}), ` +
        `${info.fromCache ? 'read from the browser cache' : 'downloaded'} and on the GPU in ` +
        `${formatSeconds(info.seconds)}.`,
    );
    return true;
  } catch (error) {
    // The worker freed the previous model before loading this one: nothing runs now.
    state.loaded = false;
    state.loading = false;
    failSelection(error, selection);
    return false;
  } finally {
    state.loading = false;
    updateButtons();
    void storage.then((view) => view.refresh());
    void refreshCached();
  }
}

async function generate(): Promise<void> {
  const request = generation.request();
  state.generating = true;
  updateButtons();
  generation.start(request.text);
  try {
    generation.finish(await worker.call('generate', request, (token) => generation.token(token)));
  } catch (error) {
    generation.fail(explain(error));
  } finally {
    state.generating = false;
    updateButtons();
  }
}

async function analyze(): Promise<void> {
  const text = byTestId<HTMLTextAreaElement>('prompt').value;
  state.analyzing = true;
  updateButtons();
  for (const id of ['attention', 'lens']) byTestId(id).dataset.state = 'running';
  try {
    const analysis = await worker.call('analyze', { text });
    renderAttention(byTestId('attention'), analysis);
    renderLens(byTestId('lens'), analysis);
  } catch (error) {
    for (const id of ['attention', 'lens']) {
      byTestId(id).dataset.state = 'error';
      byTestId(id).textContent = explain(error);
    }
  } finally {
    state.analyzing = false;
    updateButtons();
  }
}

async function acrossTraining(): Promise<void> {
  const revisions = revisionsInput.value
    .split(/[\s,]+/)
    .map((r) => r.trim())
    .filter(Boolean);
  if (revisions.length === 0) return;
  const text = byTestId<HTMLTextAreaElement>('prompt').value;
  state.across = true;
  updateButtons();
  across.start(revisions);
  try {
    await worker.call('acrossTraining', { text, revisions }, (event) => across.update(event));
    across.finish();
  } catch (error) {
    across.fail(explain(error));
  } finally {
    state.across = false;
    updateButtons();
    void storage.then((view) => view.refresh());
    void refreshCached();
  }
}

/** A live run of a few examples of one task on the loaded checkpoint. */
async function evaluate(): Promise<void> {
  const request = evaluations.request();
  state.evaluating = true;
  updateButtons();
  evaluations.start(request);
  try {
    evaluations.finish(
      await worker.call('evaluate', request, (event) => evaluations.update(event)),
    );
  } catch (error) {
    evaluations.fail(
      explainEvalError(namedError(error), {
        hub: params.hub,
        fromUrlHub: params.given.hub,
        task: request.task,
      }) ?? explain(error),
    );
  } finally {
    state.evaluating = false;
    updateButtons();
  }
}

/** Checkpoints for "across training": a log-spaced set for the suite, else the repo's branches. */
function suggestRevisions(repo: string, list: BranchList): void {
  revisionsInput.value = pythiaModel(repo)
    ? SUITE_ACROSS_TRAINING.join(', ')
    : list.state === 'listed'
      ? spreadOverTraining(
          list.branches.map((ref) => ref.name),
          6,
        ).join(', ')
      : '';
}

/** The prompt's tokens, again after each edit (the newest answer wins). */
function watchPrompt(): void {
  const prompt = byTestId<HTMLTextAreaElement>('prompt');
  let latest = 0;
  const elements = { tokens: byTestId('tokens'), ids: byTestId('ids'), count: byTestId('count') };
  const tokenize = async () => {
    const asked = ++latest;
    const text = prompt.value;
    try {
      const tokens = await worker.call('tokenize', { text });
      if (asked === latest) renderTokens(elements, text, tokens);
    } catch (error) {
      if (asked === latest) elements.count.textContent = explain(error);
    }
  };
  prompt.addEventListener('input', () => void tokenize());
  void tokenize();
}

buttons.load.addEventListener('click', async () => {
  // "Try again" after the Hub did not answer: the slider's list may be readable now too.
  if (shown.list.state === 'unavailable') await listCheckpoints(picker.selection().repo);
  if (await load()) await analyze();
});
buttons.generate.addEventListener('click', () => void generate());
dtypeSelect.addEventListener('change', describeDtype);
buttons.stop.addEventListener('click', () => void worker.call('stop', {}));
buttons.analyze.addEventListener('click', () => void analyze());
buttons.across.addEventListener('click', () => void acrossTraining());
buttons.evaluate.addEventListener('click', () => void evaluate());

async function start(): Promise<void> {
  updateButtons();
  void storage.then((view) => view.refresh());
  const gpu = mountWebGpuStatus(byTestId('webgpu')).catch(() => undefined);
  // Once the adapter is known: which sizes run here, and in which dtype.
  void gpu.then((report) => {
    if (report?.state !== 'ready') return;
    adapterLimits = {
      maxStorageBufferBindingSize: report.maxStorageBufferBindingSize,
      maxBufferSize: report.maxBufferSize,
    };
    const limits = adapterLimits;
    picker.showFits((repo) => {
      const config = suiteConfig(repo);
      return config && autoDtype(config, limits, params.gpuMemory);
    });
    describeDtype();
  });
  const badHub = hubProblem(params.hub);
  if (badHub) {
    status.fail(badHub, 'page');
    return;
  }
  status.show('idle', 'Reading the checkpoint list…');
  await listCheckpoints(params.model);
  const selection = picker.selection();
  const prepared = await prepare(selection).catch((error: unknown) => {
    failSelection(error, selection);
    return { cached: false, ok: false };
  });
  watchPrompt();
  if ((await gpu)?.state !== 'ready') {
    buttons.load.disabled = true;
    status.fail(
      'No WebGPU here, so the model cannot run (the tokenizer above still works). ' +
        'The WebGPU panel below says why and how to turn it on.',
      'page',
    );
    return;
  }
  // A checkpoint that cannot be listed: the status line says why.
  if (!prepared.ok) return;
  // Without a click the page only loads what costs no download; ?autorun=1 loads anyway.
  if (!params.autorun && !prepared.cached) {
    status.show('idle', PICK_AND_LOAD);
    return;
  }
  if (!(await load())) return;
  if (params.autorun) await generate();
  await analyze();
  if (params.autorun) await acrossTraining();
}

void start();
