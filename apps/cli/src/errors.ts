/** A mistake in how the command was called: exit code 2, as for any usage error. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * A model's `tokenizer.json` that cannot be loaded (not JSON, or not of the GPT-NeoX family). The
 * command was called correctly, the file is at fault: exit code 1, with the file named.
 */
export class TokenizerFileError extends Error {
  override name = 'TokenizerFileError';
}
