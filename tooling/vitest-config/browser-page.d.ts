/** A bundled test page served from a local (secure) origin. */
export interface TestPage {
  origin: string;
  /** The bundled module, e.g. to check what it pulls in. */
  bundle: string;
  close(): Promise<void>;
}

/**
 * Bundles `entry` with esbuild and serves it at `origin` (`/` loads it as a module). `entry` is
 * a module's path, or its source with the folder its imports resolve from.
 */
export function serveTestPage(
  entry: string | URL | { contents: string; resolveDir: string | URL; loader?: 'js' | 'ts' },
): Promise<TestPage>;
