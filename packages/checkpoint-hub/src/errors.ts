/** Base class of every error this package throws. */
export class CheckpointHubError extends Error {
  override name = 'CheckpointHubError';
}

/** A model reference such as `pythia-70m@step3000` could not be parsed. */
export class InvalidModelRefError extends CheckpointHubError {
  override name = 'InvalidModelRefError';
  constructor(
    readonly ref: string,
    reason: string,
  ) {
    super(
      `cannot read model reference ${JSON.stringify(ref)}: ${reason}. ` +
        'Use a Hub repo ("EleutherAI/pythia-70m-deduped"), a Pythia name ("pythia-70m-deduped"), ' +
        'optionally with a revision ("pythia-70m-deduped@step3000").',
    );
  }
}
