export { Tokenizer } from './tokenizer.js';
export type { DecodeOptions, EncodeOptions, EncodingWithOffsets } from './tokenizer.js';
export { StreamDecoder } from './stream-decoder.js';
export {
  InvalidTokenIdError,
  InvalidTokenizerConfigError,
  TokenizerError,
  UnsupportedTokenizerFeatureError,
} from './errors.js';
