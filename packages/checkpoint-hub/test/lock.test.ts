import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubClient } from '../src/index.js';
import { NodeHubCache } from '../src/node/index.js';
import { type LockHolder, parseHolder, withLock } from '../src/node/lock.js';
import { FakeHub, sha256Hex } from '../src/testing/index.js';

// A download lock must never outlive its holder: whatever a crash, a PID reused since, another
// program or an older version left in the lock file, a waiter takes it over within a bounded
// time, and two waiters never both hold it.

let folder: string;
let lock: string;
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const builtLock = pathToFileURL(join(packageDir, 'dist', 'node', 'lock.js')).href;

/** Writes a lock file as some holder left it, with its heartbeat `ageMs` old. */
function leaveLock(content: string, ageMs = 0) {
  writeFileSync(lock, content);
  const at = (Date.now() - ageMs) / 1000;
  utimesSync(lock, at, at);
}

/** How long `withLock` took to get the lock, in ms. */
async function timeToAcquire(options: Parameters<typeof withLock>[2]): Promise<number> {
  const start = Date.now();
  let acquired = 0;
  await withLock(
    lock,
    async () => {
      acquired = Date.now() - start;
    },
    { pollMs: 20, ...options },
  );
  return acquired;
}

/** A live process that is no lock's holder: its PID is what a crashed holder's PID became. */
async function liveStranger(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], {
    stdio: 'ignore',
  });
  children.push(child);
  await once(child, 'spawn');
  return child;
}

/** The PID of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

/** A process that holds the lock (through the built package) for `ms`, then appends to `log`. */
function childHolder(
  ms: number,
  log: string,
  options: object,
): { child: ChildProcess; held: Promise<void> } {
  const script = `
    import { appendFileSync } from 'node:fs';
    import { withLock } from ${JSON.stringify(builtLock)};
    const [path, ms, log, options] = process.argv.slice(1);
    await withLock(path, async () => {
      process.stdout.write('held\\n');
      await new Promise((r) => setTimeout(r, Number(ms)));
      appendFileSync(log, 'child released\\n');
    }, JSON.parse(options));
  `;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', script, lock, String(ms), log, JSON.stringify(options)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const held = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('exit', (code) => reject(new Error(`the holder exited (${code}) before holding`)));
  });
  return { child, held };
}

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'hf-lock-'));
  lock = join(folder, 'blob.lock');
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('a lock file names its holder', () => {
  it('as JSON {pid, host, token, started} while held, and is gone after', async () => {
    let seen: LockHolder | undefined;
    await withLock(lock, async () => {
      seen = JSON.parse(readFileSync(lock, 'utf8')) as LockHolder;
    });
    expect(seen).toEqual({
      pid: process.pid,
      host: hostname(),
      thread: threadId,
      token: expect.stringMatching(/^[0-9a-f]{24}$/),
      started: expect.any(String),
    });
    expect(existsSync(lock)).toBe(false);
  });

  it('older versions wrote a bare PID, still understood; anything else names no holder', () => {
    expect(parseHolder('1234')).toEqual({ pid: 1234 });
    expect(parseHolder('{"pid":5,"host":"h","token":"t"}')).toEqual({
      pid: 5,
      host: 'h',
      token: 't',
    });
    for (const text of ['', '0', '-3', '{"pid":"5"}', 'null', '{not json', '12abc'])
      expect(parseHolder(text), text).toBeUndefined();
  });
});

describe('a waiter takes over an abandoned lock', () => {
  it('empty (as Python filelock leaves them) and older than the grace period: at once', async () => {
    leaveLock('', 10_000);
    expect(await timeToAcquire({ graceMs: 2_000 })).toBeLessThan(1_000);
    expect(readdirSync(folder)).toEqual([]);
  });

  it('empty but younger than the grace period: its holder is still writing it, so it waits', async () => {
    leaveLock('');
    expect(await timeToAcquire({ graceMs: 800 })).toBeGreaterThanOrEqual(700);
  });

  it('unparsable content, older than the grace period: at once', async () => {
    leaveLock('{"pid": oops', 10_000);
    expect(await timeToAcquire({ graceMs: 2_000 })).toBeLessThan(1_000);
  });

  it('a holder on this host whose PID is dead: at once, however fresh its heartbeat', async () => {
    leaveLock(JSON.stringify({ pid: await deadPid(), host: hostname(), token: 'gone' }));
    expect(await timeToAcquire({ staleMs: 60_000 })).toBeLessThan(1_000);
  });

  it('a PID that is alive but not the holder (reused after a crash): once the heartbeat is stale', async () => {
    const stranger = await liveStranger();
    leaveLock(JSON.stringify({ pid: stranger.pid, host: hostname(), token: 'crashed' }));
    const waited = await timeToAcquire({ staleMs: 600 });
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(waited).toBeLessThan(5_000);
    expect(stranger.exitCode).toBeNull();
  });

  it("this very thread's PID with a token it does not hold: at once (a process before it had the PID)", async () => {
    leaveLock(
      JSON.stringify({ pid: process.pid, host: hostname(), thread: threadId, token: 'not-mine' }),
    );
    expect(await timeToAcquire({ staleMs: 60_000 })).toBeLessThan(1_000);
  });

  it('another thread of this process (same PID): once the heartbeat is stale', async () => {
    const thread = threadId + 1;
    leaveLock(JSON.stringify({ pid: process.pid, host: hostname(), thread, token: 'theirs' }));
    const waited = await timeToAcquire({ staleMs: 600 });
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(waited).toBeLessThan(5_000);
  });

  it('another host: its PID says nothing there, so the heartbeat alone decides', async () => {
    leaveLock(JSON.stringify({ pid: await deadPid(), host: 'elsewhere.invalid', token: 't' }));
    const waited = await timeToAcquire({ staleMs: 600 });
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(waited).toBeLessThan(5_000);
  });
});

describe('a waiter waits for a live holder', () => {
  it('that keeps its heartbeat fresh, longer than the stale time, and gets the lock when released', async () => {
    const log = join(folder, 'log');
    const { held } = childHolder(1_500, log, { staleMs: 300 });
    await held;
    await withLock(
      lock,
      async () => {
        writeFileSync(log, `${readFileSync(log, 'utf8')}parent acquired\n`);
      },
      { staleMs: 300, pollMs: 20 },
    );
    expect(readFileSync(log, 'utf8')).toBe('child released\nparent acquired\n');
  });

  it('and says so once, naming it, when the wait gets long', async () => {
    const onLongWait = vi.fn();
    const holding = withLock(lock, () => sleep(600));
    await sleep(50);
    await withLock(lock, async () => undefined, { noticeAfterMs: 100, pollMs: 20, onLongWait });
    await holding;
    expect(onLongWait).toHaveBeenCalledTimes(1);
    expect(onLongWait.mock.calls[0]?.[0]).toMatchObject({ pid: process.pid, host: hostname() });
  });

  it('and the holder removes only its own lock, not one that replaced it', async () => {
    await withLock(lock, async () => {
      // Another waiter judged it abandoned and took it over while this holder stalled.
      writeFileSync(lock, JSON.stringify({ pid: process.pid, token: 'the-new-holder' }));
    });
    expect(parseHolder(readFileSync(lock, 'utf8'))?.token).toBe('the-new-holder');
  });

  it('until the signal aborts the wait', async () => {
    const holding = withLock(lock, () => sleep(1_000));
    await sleep(50);
    await expect(
      withLock(lock, async () => undefined, { signal: AbortSignal.timeout(200), pollMs: 20 }),
    ).rejects.toThrow(/timed? ?out|aborted/i);
    await holding;
  });
});

describe('two waiters never both take over one abandoned lock', () => {
  it('in one process', async () => {
    leaveLock('', 10_000);
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withLock(
          lock,
          async () => {
            most = Math.max(most, ++inside);
            await sleep(20);
            inside--;
          },
          { pollMs: 5 },
        ),
      ),
    );
    expect(most).toBe(1);
    expect(readdirSync(folder)).toEqual([]);
  });

  it('in four processes', async () => {
    leaveLock(JSON.stringify({ pid: await deadPid(), host: hostname(), token: 'crashed' }));
    const log = join(folder, 'log');
    const script = `
      import { appendFileSync } from 'node:fs';
      import { withLock } from ${JSON.stringify(builtLock)};
      const [path, log] = process.argv.slice(1);
      await withLock(path, async () => {
        appendFileSync(log, 'in ' + process.pid + '\\n');
        await new Promise((r) => setTimeout(r, 100));
        appendFileSync(log, 'out ' + process.pid + '\\n');
      }, { pollMs: 10 });
    `;
    const runs = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, lock, log], {
        stdio: 'inherit',
      });
      children.push(child);
      return once(child, 'exit').then(([code]) => code);
    });
    expect(await Promise.all(runs)).toEqual([0, 0, 0, 0]);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(8);
    for (let i = 0; i < 8; i += 2) {
      expect(lines[i]).toMatch(/^in /);
      expect(lines[i + 1]).toBe(lines[i]!.replace('in', 'out'));
    }
    expect(readdirSync(folder)).toEqual(['log']);
  });
});

describe("NodeHubCache's download lock", () => {
  const C1 = '1'.repeat(40);
  const REPO = 'EleutherAI/pythia-tiny';
  const weights = Uint8Array.from({ length: 20_000 }, (_, i) => i % 256);
  const hub = new FakeHub({
    [REPO]: { branches: { main: C1 }, commits: { [C1]: { 'model.safetensors': weights } } },
  });
  const repoLocks = () => join(folder, '.locks', 'models--EleutherAI--pythia-tiny');
  const blobLock = () => join(repoLocks(), `${sha256Hex(weights)}.lock`);
  const cache = (lockOptions: object = {}) =>
    new NodeHubCache({
      dir: folder,
      client: new HubClient({ endpoint: hub.hubOrigin, retries: 0 }),
      lock: lockOptions,
    });

  beforeAll(() => hub.start());
  afterAll(() => hub.stop());

  it("downloads past an empty lock file that Python's filelock left in .locks/", async () => {
    mkdirSync(repoLocks(), { recursive: true });
    lock = blobLock();
    leaveLock('', 10_000);
    const start = Date.now();
    const path = await cache().file(REPO, 'main', 'model.safetensors');
    expect(readFileSync(path)).toEqual(Buffer.from(weights));
    expect(Date.now() - start).toBeLessThan(5_000);
    expect(readdirSync(repoLocks())).toEqual([]);
  });

  it('tells a terminal, once, which process it waits for', async () => {
    const written: string[] = [];
    const tty = process.stderr.isTTY;
    const write = vi
      .spyOn(process.stderr, 'write')
      .mockImplementation((chunk: string | Uint8Array) => written.push(String(chunk)) > 0);
    process.stderr.isTTY = true;
    try {
      mkdirSync(repoLocks(), { recursive: true });
      const holding = withLock(blobLock(), () => sleep(700));
      await sleep(50);
      await cache({ noticeAfterMs: 100, pollMs: 20 }).file(REPO, 'main', 'model.safetensors');
      await holding;
    } finally {
      process.stderr.isTTY = tty;
      write.mockRestore();
    }
    expect(written).toEqual([
      `waiting for another process (pid ${process.pid}) downloading model.safetensors into the cache…\n`,
    ]);
  });
});
