import type { TaskName } from '@pythiajs/evals';
import { h } from '../dom.js';
import {
  clampExamples,
  compareWithOfficial,
  DEFAULT_EXAMPLES,
  EVAL_TASKS,
  type LiveValue,
  MAX_EXAMPLES,
  MIN_EXAMPLES,
  metricLabel,
  noiseText,
  officialCurve,
  officialNote,
  summaryText,
  TASK_LABELS,
  taskMetrics,
  trainingStep,
} from '../evaluations.js';
import type { EvaluateEvent, Evaluation } from '../worker/protocol.js';
import { evalPlot, LIVE_COLOUR, OFFICIAL_COLOUR } from './eval-plot.js';

export interface EvalViewElements {
  task: HTMLSelectElement;
  metric: HTMLSelectElement;
  examples: HTMLInputElement;
  run: HTMLButtonElement;
  plot: HTMLElement;
  note: HTMLElement;
  status: HTMLElement;
  documents: HTMLElement;
}

/** A checkpoint: a repository and a revision of it. */
export interface Checkpoint {
  repo: string;
  revision: string;
}

/**
 * "Evaluations across training": EleutherAI's official curve of the chosen task and metric for
 * the chosen model, the loaded checkpoint marked on it, and live runs of a few examples on the
 * loaded checkpoint, each a point with its standard error beside the curve and a line of text
 * that compares it with the official number. The page runs the live runs (`request`, `start`,
 * `update`, `finish`, `fail`); the view keeps every finished one and shows those of the chosen
 * model and task.
 */
export function createEvalView(elements: EvalViewElements) {
  const { task: taskSelect, metric: metricSelect, examples, run, plot, note, status } = elements;
  let chosenRepo = '';
  let loaded: Checkpoint | undefined;
  const runs: Evaluation[] = [];

  taskSelect.replaceChildren(
    ...EVAL_TASKS.map((task) => h('option', { value: task }, TASK_LABELS[task])),
  );
  taskSelect.value = 'piqa';
  examples.min = String(MIN_EXAMPLES);
  examples.max = String(MAX_EXAMPLES);
  examples.step = '1';
  examples.value = String(DEFAULT_EXAMPLES);

  const task = () => taskSelect.value as TaskName;
  const metric = () => metricSelect.value;
  const count = () => clampExamples(Number(examples.value));

  const offerMetrics = () => {
    const before = metricSelect.value;
    const metrics = taskMetrics(task());
    metricSelect.replaceChildren(...metrics.map((m) => h('option', { value: m }, metricLabel(m))));
    metricSelect.value = metrics.includes(before) ? before : metrics[0]!;
  };
  const labelButton = () => {
    run.textContent = `Run ${count()} examples on this checkpoint`;
  };

  /** The runs of the chosen model and task, oldest first. */
  const shownRuns = () => runs.filter((r) => r.repo === chosenRepo && r.task === task());
  const liveValue = (evaluation: Evaluation): LiveValue | undefined => {
    const value = evaluation.results[metric()];
    const stderr = evaluation.results[`${metric()}_stderr`];
    if (value === undefined || stderr === undefined) return undefined;
    return {
      repo: evaluation.repo,
      revision: evaluation.revision,
      step: trainingStep(evaluation.repo, evaluation.revision),
      task: task(),
      metric: metric(),
      value,
      stderr,
      examples: evaluation.documents.length,
    };
  };

  const draw = () => {
    const curve = officialCurve(chosenRepo, task(), metric());
    const live = shownRuns().flatMap((evaluation) => {
      const value = liveValue(evaluation);
      return value?.step === undefined
        ? []
        : [{ ...value, step: value.step, revision: evaluation.revision }];
    });
    const loadedStep =
      loaded && loaded.repo === chosenRepo ? trainingStep(loaded.repo, loaded.revision) : undefined;
    // The official points the latest run is compared with.
    const latest = shownRuns().at(-1);
    const latestValue = latest && liveValue(latest);
    const comparison = latestValue ? compareWithOfficial(curve, latestValue.step) : undefined;
    const compared =
      comparison?.kind === 'same'
        ? [comparison.point.step]
        : comparison?.kind === 'nearest'
          ? [comparison.before?.step, comparison.after?.step].filter(
              (step): step is number => step !== undefined,
            )
          : [];
    note.textContent = officialNote(chosenRepo, task(), metric());
    plot.dataset.official = String(curve.length);
    if (curve.length === 0 && live.length === 0) {
      plot.dataset.state = 'no-official';
      plot.replaceChildren();
      return;
    }
    plot.dataset.state = curve.length ? 'official' : 'live-only';
    plot.replaceChildren(
      evalPlot({
        metric: metric(),
        official: curve,
        live,
        compared,
        ...(loaded && loadedStep !== undefined
          ? { loaded: { step: loadedStep, revision: loaded.revision } }
          : {}),
      }),
      legend(curve.length > 0, live.length > 0, loadedStep !== undefined),
    );
  };

  /** The summary and the examples of the latest run shown, when the status is not busy. */
  const describeLatest = () => {
    if (status.dataset.state === 'running' || status.dataset.state === 'error') return;
    const latest = shownRuns().at(-1);
    const value = latest && liveValue(latest);
    if (!latest || !value) {
      status.dataset.state = 'idle';
      status.replaceChildren();
      elements.documents.replaceChildren();
      return;
    }
    const comparison = compareWithOfficial(
      officialCurve(latest.repo, task(), metric()),
      value.step,
    );
    status.dataset.state = 'done';
    status.dataset.value = String(value.value);
    status.dataset.stderr = String(value.stderr);
    status.dataset.examples = String(value.examples);
    status.dataset.metric = value.metric;
    if (comparison.kind === 'same') status.dataset.official = String(comparison.point.value);
    else delete status.dataset.official;
    status.replaceChildren(
      h('strong', { 'data-testid': 'eval-summary' }, summaryText(value, comparison)),
      h('span', { class: 'hint noise' }, noiseText(value)),
    );
    elements.documents.replaceChildren(documentsTable(latest));
  };

  const redraw = () => {
    draw();
    describeLatest();
  };

  taskSelect.addEventListener('change', () => {
    offerMetrics();
    // An error or a finished run of the previous task no longer applies.
    if (status.dataset.state !== 'running') status.dataset.state = 'idle';
    redraw();
  });
  metricSelect.addEventListener('change', redraw);
  examples.addEventListener('input', labelButton);
  examples.addEventListener('change', () => {
    examples.value = String(count());
    labelButton();
  });
  offerMetrics();
  labelButton();

  return {
    /** The model chosen in the picker: its official curve is drawn. */
    setChosen(repo: string): void {
      if (repo === chosenRepo) return;
      chosenRepo = repo;
      if (status.dataset.state === 'error') status.dataset.state = 'idle';
      redraw();
    },
    /** The checkpoint the worker holds (none while loading or after a failed load). */
    setLoaded(checkpoint: Checkpoint | undefined): void {
      loaded = checkpoint;
      draw();
    },
    /** What the visitor asks to run. */
    request(): { task: TaskName; examples: number } {
      return { task: task(), examples: count() };
    },
    start(request: { task: TaskName; examples: number }): void {
      status.dataset.state = 'running';
      status.dataset.done = '0';
      status.dataset.total = String(request.examples);
      status.textContent = `Reading the ${TASK_LABELS[request.task]} examples from the Hub…`;
    },
    update(event: EvaluateEvent): void {
      if (event.kind === 'documents') {
        status.dataset.total = String(event.total);
        status.textContent = `Scoring 0 of ${event.total} examples (of ${event.splitSize} in ${event.dataset})…`;
        return;
      }
      status.dataset.done = String(event.done);
      status.dataset.total = String(event.total);
      status.textContent = `Scoring: ${event.done} of ${event.total} examples done…`;
    },
    finish(evaluation: Evaluation): void {
      // A new run of a task at a checkpoint replaces the one before it there.
      const same = runs.findIndex(
        (r) =>
          r.repo === evaluation.repo &&
          r.revision === evaluation.revision &&
          r.task === evaluation.task,
      );
      if (same !== -1) runs.splice(same, 1);
      runs.push(evaluation);
      status.dataset.state = 'done';
      // The run is of the model shown unless the visitor picked another meanwhile.
      redraw();
    },
    fail(message: string): void {
      status.dataset.state = 'error';
      status.replaceChildren(h('span', { class: 'error' }, message));
    },
  };
}

function legend(official: boolean, live: boolean, marker: boolean): HTMLElement {
  const item = (colour: string, text: string, shape = 'dot') =>
    h(
      'span',
      { class: 'legend-item' },
      h('span', { class: `legend-${shape}`, style: `--colour: ${colour}` }),
      text,
    );
  return h(
    'p',
    { class: 'eval-legend hint' },
    ...(official ? [item(OFFICIAL_COLOUR, 'official, all examples')] : []),
    ...(live ? [item(LIVE_COLOUR, 'live run on this page, ± one standard error')] : []),
    ...(marker ? [item('currentColor', 'loaded checkpoint', 'dash')] : []),
  );
}

/** The run's examples: the prompt's end, each continuation's log-likelihood, the metrics. */
function documentsTable(evaluation: Evaluation): HTMLElement {
  const metrics = Object.keys(evaluation.documents[0]?.values ?? {});
  const rows = evaluation.documents.map((doc) => {
    const best = doc.results.reduce(
      (at, r, i) => (r.logprob > doc.results[at]!.logprob ? i : at),
      0,
    );
    const attributes: Record<string, string> = {
      'data-row': String(doc.row),
      'data-gold': String(doc.gold),
      'data-logprobs': doc.results.map((r) => r.logprob).join(','),
      'data-greedy': doc.results.map((r) => (r.isGreedy ? 1 : 0)).join(','),
    };
    for (const [name, value] of Object.entries(doc.values))
      attributes[`data-${name}`] = String(value);
    return h(
      'tr',
      attributes,
      h('td', {}, String(doc.row)),
      h('td', { class: 'eval-context' }, doc.context),
      h(
        'td',
        {},
        h(
          'ol',
          { class: 'eval-choices', start: 0 },
          ...doc.continuations.map((text, i) =>
            h(
              'li',
              {
                class: [i === doc.gold ? 'gold' : '', i === best ? 'picked' : '']
                  .filter(Boolean)
                  .join(' '),
                title: `log-likelihood ${doc.results[i]!.logprob.toFixed(4)}${i === doc.gold ? ' (the right answer)' : ''}`,
              },
              text,
              h('span', { class: 'logprob' }, ` ${doc.results[i]!.logprob.toFixed(2)}`),
            ),
          ),
        ),
      ),
      // Per document, acc is 0 or 1 and LAMBADA's ppl column the log-likelihood.
      ...metrics.map((m) => {
        const value = doc.values[m]!;
        return h('td', {}, Number.isInteger(value) ? String(value) : value.toFixed(2));
      }),
    );
  });
  return h(
    'details',
    { class: 'eval-documents' },
    h(
      'summary',
      {},
      `The ${evaluation.documents.length} examples (of ${evaluation.splitSize}) and the model's answers`,
    ),
    h(
      'table',
      { class: 'eval-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'row'),
          h('th', { scope: 'col' }, 'prompt'),
          h('th', { scope: 'col' }, 'continuations (log-likelihood; right one in bold)'),
          ...metrics.map((m) => h('th', { scope: 'col' }, m === 'ppl' ? 'log-likelihood' : m)),
        ),
      ),
      h('tbody', { 'data-testid': 'eval-rows' }, ...rows),
    ),
  );
}
