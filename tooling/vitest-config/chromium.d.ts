import type { Browser } from 'playwright-core';

/** Debian's chromium, installed by scripts/setup.sh. */
export const CHROMIUM_PATH: string;
/** WebGPU on; no network, updates or first-run work. */
export const CHROMIUM_ARGS: readonly string[];
/** Launches headless Chromium; fails (never skips) when it is missing. */
export function launchChromium(): Promise<Browser>;
