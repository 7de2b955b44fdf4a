/** Base class of every error this package throws. */
export class NeoXModelError extends Error {
  override name = 'NeoXModelError';
}

/** `config.json` is missing a field, has an impossible value, or describes another architecture. */
export class InvalidConfigError extends NeoXModelError {
  override name = 'InvalidConfigError';
  constructor(problem: string) {
    super(`config.json: ${problem}. Load the config.json of a GPT-NeoX (Pythia) checkpoint.`);
  }
}
