import { packageProject } from '@pythiajs/vitest-config';

export default packageProject('demo', {
  test: {
    // The e2e beforeAll builds the site and starts Chromium; when `pnpm test` runs every project
    // at once on two slow cores, that alone can take minutes.
    hookTimeout: 240_000,
  },
});
