#!/usr/bin/env node
import { exitQuietlyOnBrokenPipe } from './broken-pipe.js';
import { needsStderrRelay, relayStderr } from './stderr-relay.js';

exitQuietlyOnBrokenPipe();
process.exitCode = needsStderrRelay(process.argv)
  ? await relayStderr(process.argv)
  : await (await import('./main.js')).main(process.argv);
