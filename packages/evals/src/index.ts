export {
  type Aggregation,
  aggregate,
  aggregateStderr,
  argmax,
  bootstrapStderr,
  harnessShuffle,
  mean,
  meanStderr,
  multipleChoiceMetrics,
  perplexity,
  pythonLength,
  sampleStddev,
} from './metrics.js';
export {
  type OfficialResult,
  officialModels,
  officialResults,
  parseOfficialCsv,
} from './official-results.js';
export { PythonRandom } from './python-random.js';
export {
  HARNESS_LOGIT_COLUMNS,
  type LoglikelihoodRequest,
  LoglikelihoodRequestError,
  type LoglikelihoodResult,
  type LoglikelihoodTokens,
  loglikelihoodTokens,
  scoreRows,
  type TokenizerLike,
  windowOf,
} from './requests.js';
export {
  type HarnessConfig,
  type HarnessResults,
  harnessJson,
  harnessResults,
  pythonFloatRepr,
  type TaskValues,
} from './results.js';
export type { MetricSpec, Task, TaskDocument, TaskName, TaskSpec } from './task.js';
export { TaskRowError } from './task.js';
export { TASK_NAMES, TASK_TABLE } from './task-table.js';
export * from './tasks/index.js';
