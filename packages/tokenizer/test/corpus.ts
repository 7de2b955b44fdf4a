import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A mixed corpus of at least 5 MB assembled from files every Debian 12 + Node 20 machine of this
 * project has, plus generated text for what no file holds (lone surrogates, every script's newest
 * letters). Deterministic for a given machine image.
 */
export interface CorpusDocument {
  kind: 'prose' | 'code' | 'translations' | 'generated';
  source: string;
  text: string;
}

const MB = 1024 * 1024;

function walk(root: string, accept: (path: string) => boolean, out: string[] = []): string[] {
  if (!existsSync(root)) return out;
  for (const name of readdirSync(root).sort()) {
    const path = join(root, name);
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
    } catch {
      continue;
    }
    if (stat.isDirectory()) walk(path, accept, out);
    else if (stat.isFile() && accept(path)) out.push(path);
  }
  return out;
}

function take(
  kind: CorpusDocument['kind'],
  paths: string[],
  budget: number,
  perFile: number,
): CorpusDocument[] {
  const docs: CorpusDocument[] = [];
  let used = 0;
  for (const path of paths) {
    if (used >= budget) break;
    const text = readFileSync(path, 'utf8').slice(0, perFile);
    if (text.length === 0) continue;
    docs.push({ kind, source: path, text });
    used += text.length;
  }
  return docs;
}

/** The translated strings of a GNU gettext `.mo` catalog (UTF-8 catalogs only). */
function moStrings(path: string): string {
  const buf = readFileSync(path);
  if (buf.length < 28) return '';
  const magic = buf.readUInt32LE(0);
  const read =
    magic === 0x950412de ? (o: number) => buf.readUInt32LE(o) : (o: number) => buf.readUInt32BE(o);
  if (magic !== 0x950412de && magic !== 0xde120495) return '';
  const count = read(8);
  const table = read(16);
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = read(table + 8 * i);
    const offset = read(table + 8 * i + 4);
    if (offset + length > buf.length) return '';
    parts.push(
      buf
        .subarray(offset, offset + length)
        .toString('utf8')
        .replaceAll('\0', '\n'),
    );
  }
  // Entry 0 is the catalog header, which names its charset.
  if (!/charset=utf-8/i.test(parts[0] ?? '')) return '';
  return parts.slice(1).join('\n');
}

function translations(budget: number): CorpusDocument[] {
  const root = '/usr/share/locale';
  if (!existsSync(root)) return [];
  const docs: CorpusDocument[] = [];
  const locales = readdirSync(root).sort();
  // Round-robin over languages so the budget covers as many scripts as possible.
  const perLocale = Math.max(4096, Math.floor(budget / Math.max(1, locales.length)));
  let used = 0;
  for (const locale of locales) {
    const dir = join(root, locale, 'LC_MESSAGES');
    if (!existsSync(dir)) continue;
    let text = '';
    for (const file of readdirSync(dir).sort()) {
      if (!file.endsWith('.mo')) continue;
      text += `${moStrings(join(dir, file))}\n`;
      if (text.length >= perLocale) break;
    }
    text = text.slice(0, perLocale);
    if (text.trim().length === 0) continue;
    docs.push({ kind: 'translations', source: dir, text });
    used += text.length;
    if (used >= budget) break;
  }
  return docs;
}

/** Seeded PRNG (mulberry32) so the generated part is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Code point ranges to draw from: scripts, digits, marks, emoji, whitespace oddities. */
const POOLS: Array<[number, number]> = [
  [0x41, 0x5a],
  [0x61, 0x7a],
  [0x30, 0x39],
  [0x21, 0x2f],
  [0xc0, 0x24f],
  [0x370, 0x3ff],
  [0x400, 0x4ff],
  [0x530, 0x58f],
  [0x591, 0x5f4],
  [0x600, 0x6ff],
  [0x900, 0x97f],
  [0x980, 0x9ff],
  [0xe00, 0xe7f],
  [0x10a0, 0x10ff],
  [0x1100, 0x11ff],
  [0x3040, 0x30ff],
  [0x4e00, 0x9fff],
  [0xac00, 0xd7a3],
  [0x300, 0x36f],
  [0x1ab0, 0x1aff],
  [0x20d0, 0x20ff],
  [0xfe00, 0xfe0f],
  [0x1f300, 0x1faff],
  [0x1f1e6, 0x1f1ff],
  [0x1d400, 0x1d7ff],
  [0x10000, 0x1007f],
  [0x1e900, 0x1e95f],
  [0x10940, 0x1095f],
  [0x11f00, 0x11f5f],
  [0x16d40, 0x16d7f],
  [0xff01, 0xff5e],
  [0x2000, 0x206f],
  [0x2150, 0x218f],
  [0x1f100, 0x1f1ff],
  [0xe000, 0xe0ff],
];
const SPACES = [
  ' ',
  ' ',
  ' ',
  '  ',
  '    ',
  '\t',
  '\n',
  '\r\n',
  '\u00a0',
  '\u0085',
  '\u3000',
  '\u2009',
  '\ufeff',
];
const EMOJI = [
  '👩‍👩‍👧',
  '🏳️‍🌈',
  '👍🏽',
  '🇯🇵',
  '1️⃣',
  'é',
  'e\u0301',
  'ñ',
  'n\u0303',
  'ᄀ\u1161\u11a8',
];

function generated(bytes: number): CorpusDocument[] {
  const random = prng(0x5eed);
  const docs: CorpusDocument[] = [];
  const perDoc = 64 * 1024;
  for (let d = 0; d * perDoc < bytes; d++) {
    const parts: string[] = [];
    let length = 0;
    while (length < perDoc) {
      const r = random();
      let part: string;
      if (r < 0.2) part = SPACES[Math.floor(random() * SPACES.length)]!;
      else if (r < 0.25) part = EMOJI[Math.floor(random() * EMOJI.length)]!;
      else if (r < 0.26) part = ' '.repeat(1 + Math.floor(random() * 40));
      else if (r < 0.265)
        part = random() < 0.5 ? '\ud83d' : '\udc00'; // lone surrogates
      else if (r < 0.28)
        part = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "''", "'"][
          Math.floor(random() * 10)
        ]!;
      else {
        const [lo, hi] = POOLS[Math.floor(random() * POOLS.length)]!;
        const n = 1 + Math.floor(random() * 8);
        part = '';
        for (let k = 0; k < n; k++)
          part += String.fromCodePoint(lo + Math.floor(random() * (hi - lo + 1)));
      }
      parts.push(part);
      length += part.length;
    }
    docs.push({ kind: 'generated', source: `generated #${d}`, text: parts.join('') });
  }
  return docs;
}

let cached: CorpusDocument[] | undefined;

/** The corpus, over 5 MiB of UTF-8 in all. */
export function corpus(): CorpusDocument[] {
  if (cached) return cached;
  const npm = '/usr/lib/node_modules/npm';
  const prose = [
    ...walk('/usr/share/common-licenses', () => true),
    ...walk(join(npm, 'docs'), (p) => p.endsWith('.md')),
    ...walk('/usr/share/doc', (p) => p.endsWith('/copyright')),
  ];
  const code = [
    ...walk('/usr/include/node', (p) => p.endsWith('.h')),
    ...walk(join(npm, 'lib'), (p) => p.endsWith('.js')),
    ...walk(join(npm, 'node_modules'), (p) => p.endsWith('.js')),
  ];
  cached = [
    ...take('prose', prose, 1.4 * MB, 64 * 1024),
    // Every 7th header keeps the sample spread over V8, libuv, OpenSSL, ICU and cppgc.
    ...take(
      'code',
      code.filter((_, i) => i % 7 === 0),
      1.6 * MB,
      48 * 1024,
    ),
    ...translations(1.9 * MB),
    ...generated(0.8 * MB),
  ];
  return cached;
}

/** Size of the documents in UTF-8 bytes. */
export function corpusBytes(docs: CorpusDocument[]): number {
  const encoder = new TextEncoder();
  return docs.reduce((n, d) => n + encoder.encode(d.text).length, 0);
}
