export type { Activation, NeoXConfig } from './config.js';
export { parseNeoXConfig } from './config.js';
export { InvalidConfigError, NeoXModelError } from './errors.js';
