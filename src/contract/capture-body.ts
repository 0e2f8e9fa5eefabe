/**
 * `seb op capture` (SPEC §9), for every target: the run-time fields of a captured op and the body
 * binding the broker will compute for it (the capture.ts of each target builds its ops). Pure.
 */
import type { BodyBinding, BoundValue, VolatileValue } from './types.js';
import { canonicalJson } from '../lib/jcs.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { sha256Hex } from '../lib/digest.js';
import { entriesOf, hasBodyPlaces, markedBody, type SeenValue } from './run-time-values.js';
import { parseLocation } from './locations.js';

/** The SPEC §2.2 fields, present only when there is something to say (else the op is as in §2.1). */
export function capturedFields(volatile: readonly VolatileValue[], bind: readonly BoundValue[]): { volatile?: VolatileValue[]; bind?: BoundValue[] } {
  return { ...(volatile.length ? { volatile: [...volatile] } : {}), ...(bind.length ? { bind: [...bind] } : {}) };
}

/** The binding the broker will compute: over the marked body when the op names places in it. */
export function bodyBinding(fields: ReturnType<typeof capturedFields>, payload: Buffer, json: boolean): BodyBinding {
  const entries = entriesOf(fields);
  const unused: SeenValue[] = [];
  const marked = hasBodyPlaces(entries) ? markedBody(entries, payload, unused) : null;
  if (marked !== null) return json ? { jcs_sha256: marked } : { sha256: marked };
  return json ? { jcs_sha256: sha256Hex(canonicalJson(parseStrictJson(payload))) } : { sha256: sha256Hex(payload) };
}

/** The value at a JSON pointer of a body, or undefined (also when the body is not JSON). */
export function jsonAt(payload: Buffer, at: string): unknown {
  const place = parseLocation(at);
  if (place?.in !== 'json') return undefined;
  let node: unknown;
  try {
    node = parseStrictJson(payload);
  } catch {
    return undefined;
  }
  for (const token of place.pointer) {
    if (typeof node !== 'object' || node === null || !Object.prototype.hasOwnProperty.call(node, token)) return undefined;
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}
