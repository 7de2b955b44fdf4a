import './style.css';
import { BrowserHubCache, HubClient, pythiaModel } from '@pythiajs/checkpoint-hub';
import { SUITE_ACROSS_TRAINING, spreadOverTraining } from './checkpoints.js';
import { byTestId } from './dom.js';
import { explainError, hubProblem } from './explain-error.js';
import { formatBytes, formatSeconds } from './format.js';
import { ModelClient } from './model-client.js';
import { readParams } from './params.js';
import { setStatus } from './status-line.js';
import { createAcrossTrainingView } from './views/across-training-view.js';
import { renderAttention } from './views/attention-view.js';
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
const status = byTestId('status');
const buttons = {
  load: byTestId<HTMLButtonElement>('load'),
  generate: byTestId<HTMLButtonElement>('generate'),
  stop: byTestId<HTMLButtonElement>('stop'),
  analyze: byTestId<HTMLButtonElement>('analyze'),
  across: byTestId<HTMLButtonElement>('run-across'),
};
const loadHint = byTestId('load-hint');
const revisionsInput = byTestId<HTMLInputElement>('revisions');
const worker = ModelClient.start();

const picker = mountModelPicker(
  {
    select: byTestId<HTMLSelectElement>('model-select'),
    slider: byTestId<HTMLInputElement>('checkpoint'),
    label: byTestId('checkpoint-label'),
    ticks: byTestId('checkpoint-ticks'),
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
const storage = BrowserHubCache.create({ client: new HubClient({ endpoint: params.hub }) }).then(
  (cache) =>
    createStorageView(cache, { list: byTestId('storage'), usage: byTestId('storage-usage') }),
);

/** What runs now; buttons follow it so that nothing is queued behind a long task by accident. */
const state = { loaded: false, loading: false, generating: false, analyzing: false, across: false };
function updateButtons(): void {
  // Loading and "across training" hold the worker for long: nothing else is offered meanwhile.
  const idle = state.loaded && !state.loading && !state.across;
  buttons.load.disabled = state.loading || state.across;
  buttons.generate.disabled = !idle || state.generating;
  buttons.stop.disabled = !state.generating;
  buttons.analyze.disabled = !idle || state.analyzing;
  buttons.across.disabled = !idle;
}

const sourceOf = (selection: Selection): ModelSource => ({
  hub: params.hub,
  repo: selection.repo,
  revision: selection.revision,
});
/** Any failure (a worker error, or one the page hit itself) as advice for this source. */
const explain = (error: unknown, source: ModelSource = sourceOf(picker.selection())) => {
  const named =
    typeof error === 'object' && error !== null && 'message' in error
      ? {
          name: String((error as { name?: unknown }).name ?? 'Error'),
          message: String(error.message),
        }
      : { name: 'Error', message: String(error) };
  return explainError(named, source);
};

/** Lists the chosen revision (no weights) to say what loading it costs. */
async function prepare(selection: Selection): Promise<{ cached: boolean; ok: boolean }> {
  const source = sourceOf(selection);
  const prepared = await worker.call('prepare', source);
  if (prepared.problem) {
    loadHint.textContent = explain(prepared.problem, source);
    return { cached: false, ok: false };
  }
  loadHint.textContent = prepared.cached
    ? 'In the browser cache: loads without the network.'
    : `${formatBytes(prepared.downloadBytes)} to download.`;
  return { cached: prepared.cached, ok: true };
}

let selectionTimer: ReturnType<typeof setTimeout> | undefined;
let suggestedFor = params.model;
function selectionChanged(selection: Selection): void {
  // The slider fires on every step it passes; ask the Hub once it rests.
  clearTimeout(selectionTimer);
  loadHint.textContent = '';
  selectionTimer = setTimeout(() => {
    void prepare(selection).catch((error) => (loadHint.textContent = explain(error)));
    if (selection.repo !== suggestedFor) {
      suggestedFor = selection.repo;
      void suggestRevisions(selection.repo);
    }
  }, 300);
}

async function load(): Promise<boolean> {
  const source = sourceOf(picker.selection());
  state.loading = true;
  updateButtons();
  setStatus(status, 'loading', `Loading ${source.repo} @ ${source.revision}…`);
  progress.start();
  try {
    const prepared = await worker.call('prepare', source);
    if (prepared.problem) throw prepared.problem;
    const info = await worker.call('load', source, (event) => progress.update(event));
    renderModelInfo(byTestId('model-info'), info);
    loadHint.textContent = 'In the browser cache: loads without the network.';
    state.loaded = true;
    setStatus(
      status,
      'ready',
      `Ready: ${info.repo} @ ${info.revision} (commit ${info.commit.slice(0, 7)}), ` +
        `${info.fromCache ? 'read from the browser cache' : 'downloaded'} and on the GPU in ` +
        `${formatSeconds(info.seconds)}.`,
    );
    return true;
  } catch (error) {
    // The worker freed the previous model before loading this one.
    state.loaded = false;
    setStatus(status, 'error', explain(error, source));
    return false;
  } finally {
    state.loading = false;
    updateButtons();
    void storage.then((view) => view.refresh());
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
  }
}

/** Checkpoints for "across training": a log-spaced set for the suite, else the repo's branches. */
async function suggestRevisions(repo: string): Promise<void> {
  if (pythiaModel(repo)) {
    revisionsInput.value = SUITE_ACROSS_TRAINING.join(', ');
    return;
  }
  try {
    const refs = await new HubClient({ endpoint: params.hub, retries: 1 }).refs(repo);
    revisionsInput.value = spreadOverTraining(
      refs.map((ref) => ref.name),
      6,
    ).join(', ');
  } catch {
    revisionsInput.value = '';
  }
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
  if (await load()) await analyze();
});
buttons.generate.addEventListener('click', () => void generate());
buttons.stop.addEventListener('click', () => void worker.call('stop', {}));
buttons.analyze.addEventListener('click', () => void analyze());
buttons.across.addEventListener('click', () => void acrossTraining());

async function start(): Promise<void> {
  updateButtons();
  void storage.then((view) => view.refresh());
  const suggested = suggestRevisions(params.model);
  const gpu = await mountWebGpuStatus(byTestId('webgpu')).catch(() => undefined);
  const badHub = hubProblem(params.hub);
  if (badHub) {
    setStatus(status, 'error', badHub);
    return;
  }
  setStatus(status, 'idle', 'Reading the checkpoint list…');
  const prepared = await prepare(picker.selection()).catch((error: unknown) => {
    loadHint.textContent = explain(error);
    return { cached: false, ok: false };
  });
  watchPrompt();
  if (gpu?.state !== 'ready') {
    buttons.load.disabled = true;
    setStatus(
      status,
      'error',
      'No WebGPU here, so the model cannot run (the tokenizer above still works). ' +
        'The WebGPU panel below says why and how to turn it on.',
    );
    return;
  }
  if (!prepared.ok) {
    setStatus(status, 'error', loadHint.textContent ?? 'The checkpoint cannot be listed.');
    return;
  }
  // Without a click the page only loads what costs no download; ?autorun=1 loads anyway.
  if (!params.autorun && !prepared.cached) {
    setStatus(status, 'idle', 'Pick a model and a checkpoint, then load it.');
    return;
  }
  if (!(await load())) return;
  if (params.autorun) await generate();
  await analyze();
  if (params.autorun) {
    await suggested;
    await acrossTraining();
  }
}

void start();
