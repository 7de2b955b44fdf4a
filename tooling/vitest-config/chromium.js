import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Debian's chromium, installed by scripts/setup.sh. Tests never download a browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** WebGPU on (SwiftShader without a GPU); nothing that reaches the network or updates itself. */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Launches headless Chromium for a browser test. Fails (never skips) when it is missing, saying
 * how to install it.
 *
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchChromium() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: browser tests need Debian's chromium. ` +
        'Run `bash scripts/setup.sh` from the repository root to install it.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}
