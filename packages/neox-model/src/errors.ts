/** Base class of every error this package throws. */
export class NeoXModelError extends Error {
  override name = 'NeoXModelError';
}

/**
 * `config.json` is missing a field, has an impossible (or absurdly large) value, or describes
 * another architecture. `source` (`repo@revision`) names where it came from, when known.
 */
export class InvalidConfigError extends NeoXModelError {
  override name = 'InvalidConfigError';
  constructor(
    readonly problem: string,
    readonly source?: string,
  ) {
    super(
      `config.json${source === undefined ? '' : ` of ${source}`}: ${problem}. ` +
        'Load the config.json of a GPT-NeoX (Pythia) checkpoint.',
    );
  }
}

/**
 * `config.json` is a valid GPT-NeoX config but disagrees with the checkpoint's tensors (a layer
 * count, the vocabulary or a width): the two files do not belong together. Reported before
 * anything is allocated.
 */
export class ConfigMismatchError extends NeoXModelError {
  override name = 'ConfigMismatchError';
  constructor(
    /** `repo@revision` of the checkpoint. */
    readonly source: string,
    /** The `config.json` field, e.g. `num_hidden_layers`. */
    readonly field: string,
    readonly configValue: number,
    /** What the tensors say instead, e.g. `the checkpoint has layers 0–1 (2 layers)`. */
    readonly found: string,
  ) {
    super(
      `config.json of ${source} says ${field} ${configValue} but ${found}; the config ` +
        'and the weights do not belong together. Use the config.json saved with these weights ' +
        '(for a Hub revision: delete it from the cache and download it again)',
    );
  }
}

/**
 * A weight holds NaN or ±Infinity — or, loading f32/bf16 weights as f16, a finite value beyond
 * f16's range (±65504) that would become Infinity. Either makes every later forward pass produce
 * NaN logits, so it is refused at load, naming the tensor and the first such value.
 */
export class NonFiniteWeightsError extends NeoXModelError {
  override name = 'NonFiniteWeightsError';
  constructor(
    readonly tensor: string,
    /** `repo@revision` of the checkpoint. */
    readonly source: string,
    /** Flat (row-major) index of the first bad value. */
    readonly index: number,
    /** That value as stored: NaN, ±Infinity, or (for `f16-overflow`) the finite f32 value. */
    readonly value: number,
    /** Bad values in the tensor, the first included. */
    readonly count: number,
    /** `non-finite`: the checkpoint holds it; `f16-overflow`: only f16 weights cannot hold it. */
    readonly kind: 'non-finite' | 'f16-overflow',
    /** The first value's position in the tensor's shape, e.g. `[9, 82]`. */
    readonly position: readonly number[],
  ) {
    const at = `at index ${index} ([${position.join(', ')}])`;
    const others = count - 1;
    const plural = others === 1 ? '' : 's';
    super(
      kind === 'non-finite'
        ? `tensor ${tensor} of ${source} holds ${value} ${at}` +
            `${others > 0 ? ` (and ${others} more non-finite value${plural})` : ''}; the checkpoint is ` +
            'damaged. Delete it from the cache and download it again, or pass allowNonFinite: true ' +
            'to load it anyway'
        : `tensor ${tensor} of ${source} holds ${value} ${at}` +
            `${others > 0 ? ` (and ${others} more value${plural} like it)` : ''}, beyond ±65504, the ` +
            "largest f16, so f16 weights would make it Infinity. Load it with dtype: 'f32' (or pass " +
            'allowNonFinite: true to load it as Infinity anyway)',
    );
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

/**
 * Token ids a forward pass cannot take: none at all, or (in the subclasses) an id outside the
 * vocabulary or more ids than the context holds. Input to fix, not a fault of the model: the CLI
 * reports these as usage errors.
 */
export class InvalidInputError extends ForwardError {
  override name = 'InvalidInputError';
}

/** A token id that is not an integer in `[0, vocabSize)`. */
export class TokenOutOfVocabularyError extends InvalidInputError {
  override name = 'TokenOutOfVocabularyError';
  constructor(
    /** The id as given (it may be negative or not an integer). */
    readonly id: number,
    /** Its index in the input. */
    readonly position: number,
    readonly vocabSize: number,
  ) {
    super(
      `token id ${id} at position ${position} is outside the model's vocabulary of ${vocabSize} ids ` +
        `(0 to ${vocabSize - 1})`,
    );
  }
}

/** More token ids than the positions left in the context (or the KV cache). */
export class ContextOverflowError extends InvalidInputError {
  override name = 'ContextOverflowError';
  constructor(
    /** How many ids were given. */
    readonly tokens: number,
    /** How many positions were left for them. */
    readonly room: number,
    /** The model's context, `max_position_embeddings`. */
    readonly context: number,
  ) {
    super(
      `the input is ${tokens} tokens but the model reads at most ${room} here (its context is ` +
        `${context}); shorten it, or slide a window over it (pythia score does)`,
    );
  }
}

/**
 * A model source that contradicts itself: a revision for a local folder (its only revision is
 * `local`), a `repo@revision` reference and a `revision` option that disagree, or a checkpoint
 * whose reader answers a ranged read with other bytes than were asked for.
 */
export class ModelSourceError extends NeoXModelError {
  override name = 'ModelSourceError';
}
