import { StatusError } from '../../src/dev/apiserver/status.js';

/** The Status code `fn` throws, or undefined when it does not throw a StatusError. */
export function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof StatusError ? e.code : undefined;
  }
  return undefined;
}
