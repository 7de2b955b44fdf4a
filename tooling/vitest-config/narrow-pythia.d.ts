/** pythia-70m-deduped's config.json with a width of 64: its layers, heads, vocabulary and context. */
export declare const NARROW_PYTHIA_70M: Readonly<{
  hidden_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  intermediate_size: number;
  vocab_size: number;
  rotary_pct: number;
  max_position_embeddings: number;
  use_parallel_residual: boolean;
  hidden_act: string;
}>;
