/**
 * Ends a run with one plain line, `N passed, N failed, N skipped`, that any CI log reader can
 * parse without knowing vitest's own summary format.
 *
 * @implements {import('vitest/node').Reporter}
 */
export default class SummaryLineReporter {
  /** @type {string | undefined} */
  line;

  /** @param {ReadonlyArray<import('vitest/node').TestModule>} testModules */
  onTestRunEnd(testModules) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
      // A file that fails to load has no tests but must not read as a pass.
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0)
        counts.failed++;
    }
    const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : '';
    this.line = `${counts.passed} passed, ${counts.failed} failed${skipped}`;
  }

  // Printed here rather than above so it comes after vitest's own summary, as the last line.
  onFinished() {
    if (this.line) process.stdout.write(`\n${this.line}\n`);
  }
}
