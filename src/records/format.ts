import { sign, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../lib/jcs.js';
import type { RecordType } from './types.js';
import { wellFormed } from './well-formed.js';

/**
 * How a record becomes text (SPEC §8). Each top-level value is serialised once, in its JCS form;
 * the signed form, the hashed form and the written line are then three joins of the same
 * fragments, differing only in key order and in whether `sig` is present. This avoids
 * canonicalising the whole record two or three times (pino's habit of serialising fixed fields
 * once, applied to every field).
 */

/** Written order of the fields after the common head (SPEC §8 example). */
const BODY_FIELDS: Record<RecordType, readonly string[]> = {
  start: ['previous', 'sign'],
  decision: ['request', 'certificate', 'decision', 'reason', 'detail', 'identity'],
  outcome: ['decision_seq', 'status', 'upstream_request_id', 'bytes_in', 'bytes_out', 'duration_ms', 'error', 'outcome'],
  checkpoint: ['head'],
  end: [],
};

const HEAD = ['v', 'type', 'stream', 'seq', 'ts', 'prev', 'broker'] as const;

export interface Layout {
  /** Order of the written line. */
  readonly line: readonly string[];
  /** JCS order without `sig`: what is signed. Null for an unsigned record. */
  readonly signed: readonly string[] | null;
  /** JCS order of the whole record: what the next record's `prev` hashes. */
  readonly hashed: readonly string[];
}

/** JCS sorts keys by UTF-16 code units, which is what the default sort compares. */
function layout(type: RecordType, signed: boolean): Layout {
  const line = signed ? [...HEAD, ...BODY_FIELDS[type], 'kid', 'sig'] : [...HEAD, ...BODY_FIELDS[type]];
  return {
    line,
    signed: signed ? line.filter((k) => k !== 'sig').sort() : null,
    hashed: [...line].sort(),
  };
}

export const LAYOUTS: Record<RecordType, { readonly signed: Layout; readonly unsigned: Layout }> = {
  start: { signed: layout('start', true), unsigned: layout('start', false) },
  decision: { signed: layout('decision', true), unsigned: layout('decision', false) },
  outcome: { signed: layout('outcome', true), unsigned: layout('outcome', false) },
  checkpoint: { signed: layout('checkpoint', true), unsigned: layout('checkpoint', false) },
  end: { signed: layout('end', true), unsigned: layout('end', false) },
};

/**
 * Joins fragments (already JCS text) under the given keys. Keys are the fixed ASCII field names
 * above, so `"key"` is already their JSON form.
 */
export function join(keys: readonly string[], frags: Readonly<Record<string, string>>): string {
  let s = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    s += (i === 0 ? '"' : ',"') + k + '":' + (frags[k] as string);
  }
  return s + '}';
}

const HAS_LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * JCS text of a value that may hold agent-supplied strings. The common case pays nothing extra:
 * JCS refuses lone surrogates, and only then is the value copied with them replaced (SPEC §8:
 * recorded strings are always valid).
 */
export function fragment(value: unknown): string {
  // Most record fields are scalars, whose JCS form is exactly JSON.stringify's (RFC 8785 §3.2.2):
  // skip the general serialiser for them. A lone surrogate takes the slow path below.
  if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return JSON.stringify(value);
  if (typeof value === 'string' && !HAS_LONE_SURROGATE.test(value)) return JSON.stringify(value);
  try {
    return canonicalJson(value);
  } catch {
    return canonicalJson(wellFormed(value));
  }
}

/** A base64url signature over the signed form; Ed25519 (SPEC §8), or ES256 for an EC P-256 key. */
export function signerFor(key: KeyObject): (data: string) => string {
  if (key.type !== 'private') throw new Error('the record signing key must be a private key');
  if (key.asymmetricKeyType === 'ed25519') return (data) => sign(null, Buffer.from(data, 'utf8'), key).toString('base64url');
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    // JWS form (RFC 7518 §3.4): raw r||s, not DER.
    return (data) => sign('sha256', Buffer.from(data, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  }
  throw new Error('the record signing key must be Ed25519 or EC P-256');
}
