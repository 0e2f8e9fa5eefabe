/**
 * One compact JWS as carried (SPEC §2, §3), split once where it is built. Each segment is decoded
 * at most once per request, and only when a stage first needs it: the AWS carrier reads the
 * protected header's `typ`, the verifier the header, the claims and the signature, a denial record
 * the claimed `jti`; all of them share this object's one reading. A certificate found in the
 * verifier's cache decodes nothing.
 */
import { parseStrictJson } from '../lib/strict-json.js';
import { Denial } from '../reasons.js';

type Decoded = { readonly value: Record<string, unknown> } | { readonly error: Denial };

export class CompactJws {
  readonly #firstDot: number;
  readonly #lastDot: number;
  #header: Decoded | null = null;
  #payload: Decoded | null = null;
  #signature: { readonly bytes: Buffer | null } | null = null;

  /** Any string; verify.ts `decodeJws` refuses one without the compact shape before decoding it. */
  constructor(readonly token: string) {
    this.#firstDot = token.indexOf('.');
    this.#lastDot = token.lastIndexOf('.');
  }

  /** The protected header, strictly parsed; throws `malformed_certificate`. */
  header(): Record<string, unknown> {
    this.#header ??= decode(this.token.slice(0, this.#firstDot), 'protected header');
    return unwrap(this.#header);
  }

  /** The claims, strictly parsed and not verified; throws `malformed_certificate`. */
  payload(): Record<string, unknown> {
    this.#payload ??= decode(this.token.slice(this.#firstDot + 1, this.#lastDot), 'payload');
    return unwrap(this.#payload);
  }

  /** `header.payload`, the bytes the signature covers (RFC 7515 §5.2). */
  signingInput(): Buffer {
    return Buffer.from(this.token.slice(0, this.#lastDot), 'latin1');
  }

  /**
   * The signature bytes, or null when the segment is not the canonical base64url of any bytes
   * (RFC 4648 §3.5): Buffer ignores the spare bits of the last character, so without this one
   * signed certificate had 16 token strings that all verified, each a fresh cache key and record
   * (found by test/fuzz/certificate.test.ts).
   */
  signature(): Buffer | null {
    this.#signature ??= canonicalBase64url(this.token.slice(this.#lastDot + 1));
    return this.#signature.bytes;
  }
}

function canonicalBase64url(encoded: string): { readonly bytes: Buffer | null } {
  const bytes = Buffer.from(encoded, 'base64url');
  return { bytes: bytes.toString('base64url') === encoded ? bytes : null };
}

function unwrap(decoded: Decoded): Record<string, unknown> {
  if ('error' in decoded) throw decoded.error;
  return decoded.value;
}

/** base64url segment -> strictly parsed JSON object (duplicate keys and bad UTF-8 are refused). */
function decode(segment: string, what: string): Decoded {
  // Length 1 mod 4 is not base64 at all; Buffer would silently drop the stray character.
  if (segment.length % 4 === 1) return { error: malformed(`${what} is not base64url`) };
  let value: unknown;
  try {
    value = parseStrictJson(Buffer.from(segment, 'base64url'));
  } catch (err) {
    return { error: malformed(`${what} is not strict JSON${err instanceof Denial && err.detail ? `: ${err.detail}` : ''}`) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: malformed(`${what} is not a JSON object`) };
  return { value: value as Record<string, unknown> };
}

function malformed(detail: string): Denial {
  return new Denial('malformed_certificate', detail);
}
