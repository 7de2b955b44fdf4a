import type { Reporter } from 'vitest/node';

/** Ends a run with one plain line: `N passed, N failed[, N skipped]`. */
export default class SummaryLineReporter implements Reporter {}
