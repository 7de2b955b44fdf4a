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

/** The checkpoint's weights cannot be used (e.g. an integer dtype where floats are needed). */
export class UnsupportedWeightsError extends NeoXModelError {
  override name = 'UnsupportedWeightsError';
}

/** The model, its cache and its activations would not fit the device. */
export class OutOfMemoryError extends NeoXModelError {
  override name = 'OutOfMemoryError';
}

/** A forward pass was asked for something impossible (too many tokens, a wrong id …). */
export class ForwardError extends NeoXModelError {
  override name = 'ForwardError';
}
