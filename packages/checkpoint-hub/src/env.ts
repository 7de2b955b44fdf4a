/**
 * Reads an environment variable in Node; `undefined` in browsers, which have no environment.
 * Hugging Face's variables (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_CACHE, HF_HOME and the
 * timeouts) are honoured this way so the same configuration serves Python and JavaScript.
 */
export function env(name: string): string | undefined {
  const process = (globalThis as { process?: { env?: Record<string, string | undefined> } })
    .process;
  const value = process?.env?.[name];
  return value === '' ? undefined : value;
}

/** `HF_HUB_OFFLINE` as huggingface_hub reads it: 1, true, yes, on. */
export function offlineFromEnv(): boolean {
  return ['1', 'true', 'yes', 'on'].includes((env('HF_HUB_OFFLINE') ?? '').toLowerCase());
}

/**
 * A duration in seconds from the environment (huggingface_hub's `HF_HUB_ETAG_TIMEOUT` and
 * `HF_HUB_DOWNLOAD_TIMEOUT`), in milliseconds; `undefined` when unset or not a positive number,
 * so the caller's default applies.
 */
export function millisecondsFromEnv(name: string): number | undefined {
  const seconds = Number(env(name));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}
