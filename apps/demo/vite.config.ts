import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  // Pinned so that building from another working directory (the e2e test, turbo) sees the same site.
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset URLs: the built site works from any folder of any static host.
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  // The model worker is an ES module: the packages load some parts lazily (dynamic import),
  // which the default classic-script worker format cannot split.
  worker: { format: 'es' },
});
