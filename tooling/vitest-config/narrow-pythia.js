// The config.json of the model the documentation's examples load, EleutherAI/pythia-70m-deduped,
// narrowed for tests: pythia-70m's 6 layers, 8 heads, vocabulary and context, but a width of 64,
// so that a local Hub serves it and lavapipe runs it in moments.
export const NARROW_PYTHIA_70M = Object.freeze({
  hidden_size: 64,
  num_attention_heads: 8,
  num_hidden_layers: 6,
  intermediate_size: 256,
  vocab_size: 50304,
  rotary_pct: 0.25,
  max_position_embeddings: 2048,
  use_parallel_residual: true,
  hidden_act: 'gelu',
});
