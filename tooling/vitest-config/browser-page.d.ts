/** A bundled test page served from a local (secure) origin. */
export interface TestPage {
  origin: string;
  /** The bundled module, e.g. to check what it pulls in. */
  bundle: string;
  close(): Promise<void>;
}

/** Bundles `entry` with esbuild and serves it at `origin` (`/` loads it as a module). */
export function serveTestPage(entry: string | URL): Promise<TestPage>;
