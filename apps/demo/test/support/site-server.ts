import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

/** One local server for the built site and a fake Hugging Face Hub. */
export interface SiteServer {
  /** `http://127.0.0.1:PORT`, serving the site at `/` and the Hub layout beside it. */
  origin: string;
  /** Paths of every Hub request (`/{org}/{name}/resolve/{revision}/tokenizer.json`), in order. */
  hubRequests: string[];
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
};

const HUB_TOKENIZER = /^\/[^/]+\/[^/]+\/resolve\/[^/]+\/tokenizer\.json$/;

/**
 * Serves `siteDir` and, for any `/{org}/{name}/resolve/{rev}/tokenizer.json`, the file
 * `tokenizerJson`, on 127.0.0.1 at a free port. Everything else is a 404, as on a real host.
 */
export async function startSiteServer(siteDir: string, tokenizerJson: string): Promise<SiteServer> {
  const tokenizer = await readFile(tokenizerJson);
  const hubRequests: string[] = [];
  const root = normalize(siteDir + sep);

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (HUB_TOKENIZER.test(path)) {
      hubRequests.push(path);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(tokenizer);
      return;
    }
    const file = normalize(join(root, decodeURIComponent(path === '/' ? '/index.html' : path)));
    const notFound = (): void => {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found');
    };
    if (!file.startsWith(root)) return notFound();
    stat(file).then(
      (info) => {
        if (!info.isFile()) return notFound();
        response.writeHead(200, {
          'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        });
        createReadStream(file).pipe(response);
      },
      () => notFound(),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hubRequests,
    close: () => closeServer(server),
  };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}

function closeServer(server: Server): Promise<void> {
  // Chromium keeps connections alive; without this, close() waits for them to time out.
  server.closeAllConnections();
  return new Promise((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
}
