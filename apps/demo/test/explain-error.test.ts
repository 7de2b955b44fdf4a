import { describe, expect, it } from 'vitest';
import { explainError, explainEvalError, hubProblem, namedError } from '../src/explain-error.js';

const picked = { hub: false, model: false, revision: false };
const where = {
  hub: 'http://127.0.0.1:9',
  repo: 'EleutherAI/pythia-70m',
  revision: 'step3000',
  fromUrl: { hub: true, model: true, revision: true },
};
/** A first visit with no query: the Hugging Face Hub, a model and checkpoint picked on the page. */
const plainVisit = {
  hub: 'https://huggingface.co',
  repo: 'EleutherAI/pythia-70m-deduped',
  revision: 'main',
  fromUrl: picked,
};

/** Words a visitor should never read: test stand-ins, package paths, Node-only settings. */
const INTERNAL = /FakeHub|stand-in|@pythiajs|HF_|pythia download|localhost:8080/;

describe('error messages', () => {
  it("say a model that cannot be quantized loads in f16, with the page's choice, not the API's", () => {
    const message = explainError(
      {
        name: 'UnsupportedWeightsError',
        message:
          'cannot quantize gpt_neox.layers.0.attention.query_key_value.weight to q4: its rows hold ' +
          "48 weights, not a multiple of 32 (the quantization block). Load this model with dtype: 'f16' or 'f32'",
      },
      plainVisit,
    );
    expect(message).toBe(
      'Cannot quantize gpt_neox.layers.0.attention.query_key_value.weight to q4: its rows hold 48 ' +
        'weights, not a multiple of 32 (the quantization block). Choose f16 (or auto) under Weights and load again.',
    );
    expect(message).not.toMatch(/dtype:/);
  });

  it('suggest a smaller model or quantized weights when the GPU runs out of memory', () => {
    const message = explainError(
      {
        name: 'OutOfMemoryError',
        message:
          'EleutherAI/pythia-2.8b@main with f16 weights needs about 6.98 GB of GPU memory (weights ' +
          "5.55 GB, KV cache 1.34 GB, activations 0.08 GB), more than this adapter could allocate; use a smaller model, dtype: 'q8' or 'q4' or a GPU with more memory",
      },
      plainVisit,
    );
    expect(message).toMatch(/^EleutherAI\/pythia-2\.8b@main with f16 weights needs about 6\.98 GB/);
    expect(message).toMatch(/could allocate\. Pick a smaller model, or q8 or q4 under Weights\.$/);
  });

  it('say in plain words that the Hub did not answer and nothing is cached', () => {
    const message = explainError(
      {
        name: 'NotCachedError',
        message: 'EleutherAI/pythia-70m-deduped@main is not in the cache and offline mode …',
      },
      plainVisit,
    );
    expect(message).toBe(
      'The Hugging Face Hub did not answer, and EleutherAI/pythia-70m-deduped @ main is not ' +
        'cached in this browser. Check the internet connection, then press “Load checkpoint” to try again.',
    );
  });

  it('say a listing could not be read in full, not that the checkpoint lacks its weights', () => {
    const error = {
      name: 'IncompleteListingError',
      message:
        'could not list all files of EleutherAI/pythia-70m@step3000: the listing ended after 1 of ' +
        'its 3 files (missing model.safetensors). Its next page was not readable: …',
    };
    const fromUrl = explainError(error, where);
    expect(fromUrl).toBe(
      'Could not list all files of EleutherAI/pythia-70m @ step3000: the Hub at http://127.0.0.1:9 ' +
        'does not let this page read the next page of its file listing (its Link header is not ' +
        'exposed to browsers). Check that the Hub or mirror that ?hub= gives sends ' +
        'Access-Control-Expose-Headers: Link.',
    );
    expect(explainError(error, plainVisit)).toMatch(/Try again later\.$/);
    for (const message of [fromUrl, explainError(error, plainVisit)]) {
      expect(message).not.toMatch(INTERNAL);
      expect(message).not.toMatch(/has no file/);
    }
  });

  it('point at ?hub= only when the visitor gave it', () => {
    const message = explainError({ name: 'NotCachedError', message: 'x' }, where);
    expect(message).toMatch(
      /^The Hub at http:\/\/127\.0\.0\.1:9 did not answer, and EleutherAI\/pythia-70m @ step3000 is not cached in this browser\./,
    );
    expect(message).toContain('Check that ?hub= gives the address of a running Hub');
  });

  it('never show Node-only advice or test names for network failures', () => {
    for (const name of ['HubNetworkError', 'HubTimeoutError', 'HubResponseError']) {
      for (const context of [where, plainVisit]) {
        const message = explainError(
          {
            name,
            message:
              'could not fetch http://127.0.0.1:9/api/models/x after 6 attempts (Failed to fetch); ' +
              'check the connection or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only what is cached',
          },
          context,
        );
        expect(message).not.toMatch(INTERNAL);
      }
    }
    expect(
      explainError({ name: 'HubNetworkError', message: 'could not fetch x; y' }, plainVisit),
    ).toBe(
      'The Hugging Face Hub did not answer. Check the internet connection, then press “Load checkpoint” to try again.',
    );
  });

  it('point at the query parameter to fix when the URL gave it', () => {
    expect(
      explainError({ name: 'RepoNotFoundError', message: 'the Hub has no repository x' }, where),
    ).toContain('Check ?model=');
    expect(
      explainError({ name: 'RevisionNotFoundError', message: 'x has no revision step7' }, where),
    ).toContain('Check ?revision=');
  });

  it('say to pick again, naming no query parameter, when the visitor picked on the page', () => {
    const context = { ...where, fromUrl: picked };
    const repo = explainError(
      { name: 'RepoNotFoundError', message: 'the Hub has no repository x; check its name' },
      context,
    );
    expect(repo).toBe('The Hub has no repository x. Pick another model.');
    const revision = explainError(
      { name: 'RevisionNotFoundError', message: 'x has no revision step7; Pythia checkpoints …' },
      context,
    );
    expect(revision).toBe('X has no revision step7. Pick a checkpoint on the slider.');
    expect(`${repo} ${revision}`).not.toContain('?');
  });

  it('say how to get WebGPU where it is missing', () => {
    const message = explainError(
      { name: 'WebGPUUnavailableError', message: 'navigator.gpu is missing' },
      where,
    );
    expect(message).toContain('chrome://flags/#enable-unsafe-webgpu');
  });

  it('pass other errors through as a sentence', () => {
    expect(explainError({ name: 'Error', message: 'load a model first' }, where)).toBe(
      'Load a model first.',
    );
  });

  it('reject a hub that is not an http(s) URL, saying how to write one', () => {
    expect(hubProblem('localhost:8080')).toContain('http');
    expect(hubProblem('huggingface.co')).toContain('not a URL');
    expect(hubProblem('https://huggingface.co')).toBeUndefined();
  });
});

describe("error messages of a live evaluation's examples", () => {
  const onPage = { hub: 'https://huggingface.co', fromUrlHub: false, task: 'piqa' as const };
  const fromUrl = { hub: 'http://127.0.0.1:9', fromUrlHub: true, task: 'piqa' as const };

  it('say the Hub did not answer, naming the task and its dataset, with no Node-only advice', () => {
    const network = explainEvalError(
      {
        name: 'HubNetworkError',
        message:
          'could not fetch http://127.0.0.1:9/api/datasets/ybisk/piqa after 3 attempts (fetch failed); check the connection or HF_ENDPOINT',
      },
      onPage,
    );
    expect(network).toBe(
      'The Hugging Face Hub did not answer, so the piqa examples (dataset ybisk/piqa) could not ' +
        'be downloaded. Check the internet connection, then run the examples again.',
    );
    const offline = explainEvalError(
      {
        name: 'NotCachedError',
        message:
          'plain_text/validation/0000.parquet of dataset ybisk/piqa@… is not in the cache and offline mode (HF_HUB_OFFLINE=1) forbids downloading it',
      },
      fromUrl,
    );
    expect(offline).toBe(
      'The Hub at http://127.0.0.1:9 did not answer, and the piqa examples (dataset ybisk/piqa) ' +
        'are not cached in this browser. Check that ?hub= gives the address of a running Hub or ' +
        'mirror of its API.',
    );
    expect(`${network} ${offline}`).not.toMatch(INTERNAL);
  });

  it('say to pick another task where the Hub lacks the dataset or its Parquet conversion', () => {
    expect(
      explainEvalError(
        {
          name: 'RepoNotFoundError',
          message: 'the Hub has no dataset allenai/ai2_arc; check its name',
        },
        { ...fromUrl, task: 'arc_easy' },
      ),
    ).toBe(
      'The Hub at http://127.0.0.1:9 has no dataset allenai/ai2_arc, so the arc_easy examples ' +
        'cannot be read there. Pick another task.',
    );
    expect(
      explainEvalError(
        {
          name: 'RevisionNotFoundError',
          message: 'dataset ybisk/piqa has no revision refs/convert/parquet',
        },
        onPage,
      ),
    ).toBe(
      'The Hugging Face Hub has no Parquet conversion of dataset ybisk/piqa, which is where this ' +
        'page reads the piqa examples. Pick another task.',
    );
  });

  it('leave other errors to the explanation the model gets', () => {
    expect(explainEvalError({ name: 'WebGPUUnavailableError', message: 'x' }, onPage)).toBe(
      undefined,
    );
    expect(namedError(new RangeError('bad'))).toEqual({ name: 'RangeError', message: 'bad' });
    expect(namedError('plain')).toEqual({ name: 'Error', message: 'plain' });
  });
});
