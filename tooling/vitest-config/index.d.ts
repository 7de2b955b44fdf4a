import type { UserProjectConfigExport, UserWorkspaceConfig } from 'vitest/config';

/** The vitest project every package and app uses; `overrides` are merged on top. */
export function packageProject(
  name: string,
  overrides?: UserProjectConfigExport,
): UserWorkspaceConfig;
