import SummaryLineReporter from '@pythiajs/vitest-config/summary-reporter';
import { defineConfig } from 'vitest/config';

// One vitest run over every package and app, and the consumer check of what they publish; each
// folder's vitest.config.ts is a project.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tooling/consumer-check'],
    reporters: ['default', new SummaryLineReporter()],
  },
});
