import type { ErrorInfo } from './protocol.js';

/** An error as plain data: class instances do not survive `postMessage` with their class. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}
