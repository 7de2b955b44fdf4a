import type { RepoType } from './repo-type.js';

/** How a repository is named in messages: `EleutherAI/pythia-70m`, `dataset Rowan/hellaswag`. */
function label(repo: string, repoType: RepoType): string {
  return repoType === 'dataset' ? `dataset ${repo}` : repo;
}

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

/**
 * A checkpoint file is truncated or malformed (safetensors header, ZIP archive, pickle stream).
 * `file` names it so the user can delete and re-download it.
 */
export class CorruptCheckpointError extends CheckpointHubError {
  override name = 'CorruptCheckpointError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file} is corrupt or truncated: ${problem}. Delete it and download it again.`);
  }
}

/** A pickle names a global that a state dict never needs; nothing was executed. */
export class ForbiddenPickleGlobalError extends CheckpointHubError {
  override name = 'ForbiddenPickleGlobalError';
  constructor(
    readonly file: string,
    readonly global: string,
  ) {
    super(
      `${file} asks for the Python global ${global}, which a PyTorch state dict never needs; ` +
        'refusing to read it (nothing was executed). Load a checkpoint saved with torch.save(state_dict).',
    );
  }
}

/** A tensor has an element type this package cannot hand to the model. */
export class UnsupportedDtypeError extends CheckpointHubError {
  override name = 'UnsupportedDtypeError';
  constructor(
    readonly tensor: string,
    readonly dtype: string,
  ) {
    super(`tensor ${tensor} has dtype ${dtype}; model weights must be F32, F16 or BF16`);
  }
}

/** The Hub has no such repository (or it is private and no token was sent). */
export class RepoNotFoundError extends CheckpointHubError {
  override name = 'RepoNotFoundError';
  constructor(
    readonly repo: string,
    readonly repoType: RepoType = 'model',
  ) {
    super(
      repoType === 'dataset'
        ? `the Hub has no dataset ${repo}; check its name (e.g. EleutherAI/lambada_openai), or set HF_TOKEN if it is private`
        : `the Hub has no repository ${repo}; check its name (e.g. EleutherAI/pythia-70m-deduped), or set HF_TOKEN if it is private`,
    );
  }
}

/** The repository has no such branch, tag or commit. */
export class RevisionNotFoundError extends CheckpointHubError {
  override name = 'RevisionNotFoundError';
  constructor(
    readonly repo: string,
    readonly revision: string,
    readonly repoType: RepoType = 'model',
  ) {
    super(
      repoType === 'dataset'
        ? `dataset ${repo} has no revision ${revision}` +
            (revision === 'refs/convert/parquet'
              ? ': the Hub has not converted it to Parquet (it converts public datasets only, and not every one)'
              : '')
        : `${repo} has no revision ${revision}; Pythia checkpoints are step0, step1, step2, step4 … step512, ` +
            "step1000 … step143000 and main (list a repo's branches with `pythia refs`)",
    );
  }
}

/** The revision exists but has no such file. */
export class EntryNotFoundError extends CheckpointHubError {
  override name = 'EntryNotFoundError';
  constructor(
    readonly repo: string,
    readonly revision: string,
    readonly path: string,
    readonly repoType: RepoType = 'model',
  ) {
    super(`${label(repo, repoType)}@${revision} has no file ${path}`);
  }
}

/** The Hub refused access: a gated or private repository. */
export class HubAccessError extends CheckpointHubError {
  override name = 'HubAccessError';
  constructor(
    readonly repo: string,
    readonly status: number,
    readonly repoType: RepoType = 'model',
  ) {
    super(
      `the Hub refused access to ${label(repo, repoType)} (HTTP ${status}): it is gated or private. Accept its terms on ` +
        'the Hub and set HF_TOKEN to a token of an account that may read it',
    );
  }
}

/** The Hub could not be reached, or kept failing, after every retry. */
export class HubNetworkError extends CheckpointHubError {
  override name = 'HubNetworkError';
  constructor(
    readonly url: string,
    attempts: number,
    reason: string,
  ) {
    super(
      `could not fetch ${url} after ${attempts} attempt${attempts === 1 ? '' : 's'} (${reason}); check the ` +
        'connection or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only what is cached',
    );
  }
}

/** A downloaded file does not have the checksum the Hub lists for it; it was discarded. */
export class IntegrityError extends CheckpointHubError {
  override name = 'IntegrityError';
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `${path} arrived damaged (sha256 ${actual}, expected ${expected}); it was discarded, download it again`,
    );
  }
}

/** Offline mode (HF_HUB_OFFLINE=1) and the file is not in the cache. */
export class NotCachedError extends CheckpointHubError {
  override name = 'NotCachedError';
  constructor(
    readonly repo: string,
    readonly revision: string,
    readonly path?: string,
    readonly repoType: RepoType = 'model',
  ) {
    super(
      `${path ? `${path} of ` : ''}${label(repo, repoType)}@${revision} is not in the cache and offline mode (HF_HUB_OFFLINE=1) ` +
        `forbids downloading it; download it first (${repoType === 'dataset' ? 'with a run online' : 'pythia download'}) or unset HF_HUB_OFFLINE`,
    );
  }
}

/** A tensor the model needs is not in the checkpoint, or has another shape than config.json implies. */
export class TensorMismatchError extends CheckpointHubError {
  override name = 'TensorMismatchError';
  constructor(
    readonly tensor: string,
    readonly expected: readonly number[],
    readonly actual: readonly number[] | undefined,
  ) {
    super(
      actual === undefined
        ? `the checkpoint has no tensor ${tensor} (expected shape [${expected.join(', ')}]); is it a GPT-NeoX checkpoint matching its config.json?`
        : `tensor ${tensor} has shape [${actual.join(', ')}] but config.json implies [${expected.join(', ')}]; the weights and config.json do not belong together`,
    );
  }
}

/**
 * A PyTorch `.bin` checkpoint is intact but laid out in a way this package cannot read in place:
 * big-endian, the legacy pre-1.6 (non-ZIP) format, or a tensor that is a non-contiguous view of
 * its storage. Downloading it again does not help; re-saving it with `torch.save` does.
 */
export class UnsupportedTorchCheckpointError extends CheckpointHubError {
  override name = 'UnsupportedTorchCheckpointError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file} cannot be read: ${reason}`);
  }
}

/** A local checkpoint folder does not exist. */
export class LocalFolderNotFoundError extends CheckpointHubError {
  override name = 'LocalFolderNotFoundError';
  constructor(readonly folder: string) {
    super(
      `${folder} is not a folder; give the path of a checkpoint folder (config.json and the weights) ` +
        'or a Hub repo such as EleutherAI/pythia-70m-deduped',
    );
  }
}

/**
 * The Hub (or what `HF_ENDPOINT` points at) answered something that is not what its API returns:
 * not JSON, an HTML page, the wrong shape, a value of the wrong type, or a listing whose pages
 * loop. Nothing was written.
 */
export class HubResponseError extends CheckpointHubError {
  override name = 'HubResponseError';
  constructor(
    readonly url: string,
    readonly problem: string,
  ) {
    super(
      `${url} answered ${problem}; is HF_ENDPOINT (${endpointOf(url)}) a Hugging Face Hub or a ` +
        'mirror of its API? Unset HF_ENDPOINT to use huggingface.co',
    );
  }
}

/**
 * A value from the server (a commit id, a file path, a blob checksum) would have become a path in
 * the cache but is not one the Hub can send: it could point outside the cache. Nothing was written.
 * `endpoint` is empty when the value is the caller's own (a revision or repo id argument).
 */
export class UnsafeHubValueError extends CheckpointHubError {
  override name = 'UnsafeHubValueError';
  constructor(
    readonly what: string,
    readonly value: string,
    readonly endpoint: string,
  ) {
    super(
      endpoint
        ? `${endpoint} sent ${what} ${JSON.stringify(value)}, which is not a valid one and could point ` +
            'outside the cache; refusing it (nothing was written). Check HF_ENDPOINT'
        : `${what} ${JSON.stringify(value)} is not a valid one and could point outside the cache; ` +
            'refusing it (nothing was written)',
    );
  }
}

/**
 * The server stopped answering: no response (`answer`), or no bytes of the body (`bytes`), for
 * `seconds`, on every attempt. A HubNetworkError, so what falls back to the cache on network
 * errors does so here too. `variable` names the setting that waits longer.
 */
export class HubTimeoutError extends HubNetworkError {
  override name = 'HubTimeoutError';
  constructor(
    url: string,
    attempts: number,
    readonly seconds: number,
    readonly waitingFor: 'answer' | 'bytes',
    readonly variable: 'HF_HUB_ETAG_TIMEOUT' | 'HF_HUB_DOWNLOAD_TIMEOUT',
  ) {
    super(url, attempts, `no ${waitingFor} for ${seconds} s`);
    this.message =
      `no ${waitingFor} for ${seconds} s from ${url} after ${attempts} attempt${attempts === 1 ? '' : 's'}; ` +
      `the server or a proxy stopped responding. Check the connection and HF_ENDPOINT, set ${variable} ` +
      '(seconds) to wait longer, or set HF_HUB_OFFLINE=1 to use only what is cached';
  }
}

/** The disk holding the cache is full; nothing is retried, and the partial file is kept to resume. */
export class DiskFullError extends CheckpointHubError {
  override name = 'DiskFullError';
  constructor(
    readonly path: string,
    readonly free: number | undefined,
    readonly needed: number | undefined,
  ) {
    const amounts =
      free === undefined
        ? ''
        : `: free ${free} bytes${needed === undefined ? '' : ` (needs ${needed})`}`;
    super(
      `no space left on device writing ${path}${amounts}; free some space (pythia cache rm) or ` +
        'point HF_HUB_CACHE at a larger disk',
    );
  }
}

/** The cache directory cannot be written (a read-only file system or no permission). */
export class CacheNotWritableError extends CheckpointHubError {
  override name = 'CacheNotWritableError';
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(
      `the cache is read-only (${code} writing ${path}); point HF_HUB_CACHE at a writable folder, ` +
        'or set HF_HUB_OFFLINE=1 to use only what is already cached',
    );
  }
}

/**
 * Offline (`HF_HUB_OFFLINE=1`), a checkpoint of which the cache holds some files but not all: an
 * interrupted download, or one of another revision that shares files. A `NotCachedError` that
 * says so and counts them, rather than naming the first missing shard as if the revision lacked it.
 */
export class PartlyCachedError extends NotCachedError {
  override name = 'PartlyCachedError';
  constructor(
    repo: string,
    revision: string,
    /** Files of the checkpoint the cache holds. */
    readonly cached: readonly string[],
    /** Files of the checkpoint it lacks (as far as the cached files tell: a missing index hides its shards). */
    readonly missing: readonly string[],
  ) {
    super(repo, revision);
    const total = cached.length + missing.length;
    const shown = missing.slice(0, 3).join(', ') + (missing.length > 3 ? ', …' : '');
    this.message =
      `${repo}@${revision} is only partly cached (${cached.length} of ${total} files: missing ` +
      `${shown}); download it first (pythia download ${repo} --revision ${revision}) or unset HF_HUB_OFFLINE`;
  }
}

/**
 * A file listing that holds fewer files than the revision names (its `siblings`): a page of the
 * listing was not read. In browsers this is what a server that does not expose its `Link` header
 * (`Access-Control-Expose-Headers`) looks like: the next page's address cannot be read, so the
 * listing seems to end early. Reported as such, rather than as a file the revision lacks.
 */
export class IncompleteListingError extends HubResponseError {
  override name = 'IncompleteListingError';
  constructor(
    url: string,
    readonly repo: string,
    readonly revision: string,
    /** Files the revision names (`siblings` of its revision answer). */
    readonly expected: number,
    /** Files the listing held. */
    readonly listed: number,
    /** Some of the files the listing lacks. */
    readonly missing: readonly string[],
    readonly repoType: RepoType = 'model',
  ) {
    const named = label(repo, repoType);
    super(url, `a listing of ${listed} of the ${expected} files of ${named}@${revision}`);
    const shown = missing.slice(0, 3).join(', ') + (missing.length > 3 ? ', …' : '');
    this.message =
      `could not list all files of ${named}@${revision}: the listing ended after ${listed} of its ` +
      `${expected} files (missing ${shown}). Its next page was not readable: a Hub mirror or proxy ` +
      'must send the Link header, and expose it to browsers (Access-Control-Expose-Headers: Link)';
  }
}

function endpointOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * A {@link SafetensorsWriter} was used in a way the file it writes cannot take: a tensor it did
 * not declare, data of another dtype or a length that is not whole rows, rows outside the
 * tensor, a declaration the format cannot hold, or a write after `finish`/`abort`. Nothing was
 * written by the call that threw.
 */
export class SafetensorsWriteError extends CheckpointHubError {
  override name = 'SafetensorsWriteError';
}

/**
 * `finish()` of a {@link SafetensorsWriter} with rows that were never written: the file would
 * hold whatever bytes the sink had there. Nothing was closed; write the rows named (or `abort()`
 * to discard the file).
 */
export class IncompleteSafetensorsError extends SafetensorsWriteError {
  override name = 'IncompleteSafetensorsError';
  constructor(
    /** Each tensor with unwritten rows, and those rows as `[begin, end)` ranges. */
    readonly missing: ReadonlyArray<{ tensor: string; rows: ReadonlyArray<[number, number]> }>,
  ) {
    const shown = missing
      .slice(0, 3)
      .map(
        ({ tensor, rows }) =>
          `${tensor} rows ${rows
            .slice(0, 3)
            .map(([a, b]) => (b - a === 1 ? `${a}` : `${a}–${b - 1}`))
            .join(', ')}${rows.length > 3 ? ', …' : ''}`,
      )
      .join('; ');
    const more = missing.length > 3 ? ` and ${missing.length - 3} more tensors` : '';
    super(
      `cannot finish the safetensors file: ${shown}${more} were never written. Write every row ` +
        'with writeRows before finish(), or call abort() to discard the file',
    );
  }
}

/**
 * A dataset file whose rows cannot be read: a Parquet file that is truncated, corrupt or uses an
 * encoding this reader lacks, or a JSON Lines file with a line that is not a JSON object
 * (`line`, 1-based, names it). `file` says which file: a cached Hub download is checked against
 * the Hub's checksum before it is cached, so a corrupt one there came from elsewhere.
 */
export class InvalidDatasetFileError extends CheckpointHubError {
  override name = 'InvalidDatasetFileError';
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly line?: number,
  ) {
    super(
      line === undefined
        ? `cannot read the rows of ${file}: ${problem}. Check that it is a Parquet file (a ` +
            'dataset split converted by the Hub), and download it again if it was cut short'
        : `${file} line ${line} is not a JSON object: ${problem}. Each line of a .jsonl file ` +
            'must hold one JSON object (blank lines are skipped)',
    );
  }
}

/**
 * A dataset value that JavaScript's numbers cannot hold exactly: a Parquet `INT64` beyond
 * `Number.MAX_SAFE_INTEGER` (2^53 − 1). Rows are plain numbers, so it is refused rather than
 * rounded; read such a file with `hyparquet` itself to get `BigInt`s.
 */
export class UnsafeDatasetIntegerError extends CheckpointHubError {
  override name = 'UnsafeDatasetIntegerError';
  constructor(
    readonly file: string,
    /** 0-based row of the file. */
    readonly row: number,
    /** Where in the row: `label`, `choices.text[2]`. */
    readonly field: string,
    readonly value: bigint,
  ) {
    super(
      `${file} row ${row} field ${field} holds ${value}, an integer beyond ±2^53 − 1 that a ` +
        'JavaScript number cannot hold exactly; read this file with hyparquet itself to get BigInt values',
    );
  }
}
