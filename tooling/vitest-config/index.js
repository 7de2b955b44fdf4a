import { defineProject, mergeConfig } from 'vitest/config';

/**
 * The vitest project every package and app uses; `overrides` are merged on top.
 * Plain JavaScript so that vitest can load it from node_modules without a TypeScript loader.
 *
 * @param {string} name project name shown in the test report
 * @param {import('vitest/config').UserProjectConfigExport} [overrides]
 */
export function packageProject(name, overrides = {}) {
  return mergeConfig(
    defineProject({
      test: {
        name,
        include: ['test/**/*.test.ts'],
        // Software GPU adapters and the 5 MB tokenizer corpus are slow on 2 shared cores.
        testTimeout: 120_000,
        hookTimeout: 120_000,
      },
    }),
    overrides,
  );
}
