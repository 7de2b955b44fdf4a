/** Base class of every error this package throws. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/**
 * The `tokenizer.json` uses a feature this package does not implement. Thrown at load time so a
 * tokenizer is never silently mis-applied.
 */
export class UnsupportedTokenizerFeatureError extends TokenizerError {
  override name = 'UnsupportedTokenizerFeatureError';
  constructor(
    /** The JSON path and value of the unsupported feature, e.g. `normalizer.type = "Lowercase"`. */
    readonly feature: string,
  ) {
    super(
      `tokenizer.json uses ${feature}, which @pythiajs/tokenizer does not implement ` +
        '(it supports the GPT-NeoX-20B family: BPE with a ByteLevel pre-tokenizer and decoder). ' +
        'Use a tokenizer.json of that family, or tokenize with Hugging Face tokenizers instead.',
    );
  }
}

/** The `tokenizer.json` is malformed (not JSON, a missing field, a merge of unknown tokens …). */
export class InvalidTokenizerConfigError extends TokenizerError {
  override name = 'InvalidTokenizerConfigError';
}

/** An id passed to `decode` or `idToToken` is not a non-negative integer. */
export class InvalidTokenIdError extends TokenizerError {
  override name = 'InvalidTokenIdError';
  constructor(readonly id: unknown) {
    super(`token id ${String(id)} is not a non-negative integer; pass ids as produced by encode()`);
  }
}
