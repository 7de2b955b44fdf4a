// Loaded with `node --import` before a README example (see readme-example.js): records every
// console.log call as one JSON line, `{ line, text }`, in the file README_EXAMPLE_LOG names, where
// `line` is the example's line that made the call. The text is what console.log would print, on
// one line, so an object prints the same however wide it is. Nothing reaches stdout, which stays
// for what the example writes itself (a generation loop's process.stdout.write).
import { appendFileSync } from 'node:fs';
import { basename } from 'node:path';
import { formatWithOptions } from 'node:util';

const log = process.env.README_EXAMPLE_LOG;
const example = basename(process.env.README_EXAMPLE_FILE ?? '');

if (log && example) {
  console.log = (...args) => {
    // The first stack frame in the example file (source-mapped for TypeScript examples).
    const frame = new Error().stack
      ?.split('\n')
      .find((f) => f.includes(`${example}:`) && !f.includes('readme-example-logs'));
    const line = Number(
      new RegExp(`${example.replace(/\./g, '\\.')}:(\\d+):`).exec(frame ?? '')?.[1],
    );
    const text = formatWithOptions(
      { breakLength: Number.POSITIVE_INFINITY, colors: false },
      ...args,
    );
    appendFileSync(log, `${JSON.stringify({ line, text })}\n`);
  };
}
