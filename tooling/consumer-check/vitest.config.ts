import { packageProject } from '@pythiajs/vitest-config';

export default packageProject('consumer-check', {
  test: {
    // Packing six packages and installing them into a fresh project takes a while on two
    // shared cores, more so while `pnpm test` runs every other project at once.
    hookTimeout: 240_000,
  },
});
