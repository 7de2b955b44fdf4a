/**
 * Reads an environment variable in Node; `undefined` in browsers, which have no environment.
 * Hugging Face's variables (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_CACHE, HF_HOME) are
 * honoured this way so the same configuration serves Python and JavaScript.
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
