/** A mistake in how the command was called: exit code 2, as for any usage error. */
export class UsageError extends Error {
  override name = 'UsageError';
}
