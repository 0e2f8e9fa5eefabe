import { Denial } from '../../src/reasons.js';

/** The reason code `fn` is denied with, `'ok'` when it passes, or what else it threw. */
export function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof Denial ? err.code : `threw ${String(err)}`;
  }
}

/** The reason code `p` is rejected with, `'ok'` when it resolves, or what else it threw. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof Denial ? err.code : `threw ${String(err)}`;
  }
}
