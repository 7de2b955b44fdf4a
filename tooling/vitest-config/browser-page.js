import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles a browser test page (an ES module) with esbuild and serves it from a local origin:
 * `GET /` is an HTML page that loads it, `GET /page.js` the bundle. 127.0.0.1 over http is a
 * secure context, so WebGPU, the Cache API and OPFS are available to the page.
 *
 * @param {string | URL | { contents: string; resolveDir: string | URL; loader?: 'js' | 'ts' }} entry
 *   the page's module: a file path or a file: URL, or its source, with the folder its imports
 *   resolve from (a README's example, say, resolved from its package's folder)
 * @returns {Promise<{ origin: string; bundle: string; close(): Promise<void> }>}
 */
export async function serveTestPage(entry) {
  const path = (/** @type {string | URL} */ p) => (p instanceof URL ? fileURLToPath(p) : p);
  const source =
    typeof entry === 'string' || entry instanceof URL
      ? { entryPoints: [path(entry)] }
      : {
          stdin: {
            contents: entry.contents,
            resolveDir: path(entry.resolveDir),
            loader: entry.loader ?? 'js',
            sourcefile: 'page',
          },
        };
  const result = await build({
    ...source,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  const bundle = result.outputFiles[0].text;
  const server = createServer((request, response) => {
    if (request.url === '/page.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else {
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><script type="module" src="/page.js"></script>');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    origin: `http://127.0.0.1:${port}`,
    bundle,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
