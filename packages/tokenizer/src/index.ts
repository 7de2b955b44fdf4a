export {
  InvalidTokenIdError,
  InvalidTokenizerConfigError,
  TokenizerError,
  UnsupportedTokenizerFeatureError,
} from './errors.js';
export { StreamDecoder } from './stream-decoder.js';
export type { DecodeOptions, EncodeOptions, EncodingWithOffsets } from './tokenizer.js';
export { Tokenizer } from './tokenizer.js';
