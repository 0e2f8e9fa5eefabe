/**
 * Strict reading of percent-encoded URL parts (SPEC §2.1: "S3 keys are decoded strictly"; every
 * query parameter is pinned "as the upstream decodes" it). Anything an upstream could decode
 * another way is refused rather than guessed (reference/aws.md §4.7: never `URLSearchParams`, which
 * turns `+` into a space).
 */
import { unparseable } from '../../reasons.js';

// Fatal: invalid UTF-8 after percent-decoding is refused, never replaced with U+FFFD (two
// different byte strings must never read as the same key).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Printable ASCII except `%` (handled as an escape) and `+` (S3 and the query protocols may fold
// it into a space: ambiguous). Everything else must arrive percent-encoded.
const PLAIN = /^[\x21-\x24\x26-\x2a\x2c-\x7e]*$/;
const ESCAPE = /^%[0-9A-Fa-f]{2}/;

/** Percent-decodes `s` exactly once. Throws `unparseable` on anything that is not strict. */
export function decodeComponent(s: string): string {
  const pct = s.indexOf('%');
  if (pct === -1) {
    // Fast path: most keys and parameter values carry no escapes at all.
    if (!PLAIN.test(s)) throw unparseable(rawCharDetail(s));
    return s;
  }
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25) {
      if (!ESCAPE.test(s.slice(i, i + 3))) throw unparseable('a % is not followed by two hex digits');
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (ch >= 0x21 && ch <= 0x7e && ch !== 0x2b) {
      bytes.push(ch);
    } else {
      throw unparseable(rawCharDetail(s));
    }
  }
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    throw unparseable('percent-decoding does not give valid UTF-8');
  }
}

function rawCharDetail(s: string): string {
  return s.includes('+')
    ? 'a raw + is ambiguous (it may be read as a space); send %2B or %20'
    : 'a character outside printable ASCII is not percent-encoded';
}

/**
 * Parses a raw query string (without `?`) into a null-prototype record of decoded names to decoded
 * values. A name without `=` has the value `''` (`?uploads`), as has `name=` (`?delete=`): S3
 * reads both the same way, and the signer must send `{uploads: ''}` (reference/aws.md §4.7).
 */
export function parseQuery(raw: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (raw === '') return out;
  for (const pair of raw.split('&')) {
    if (pair === '') throw unparseable('the query string holds an empty pair');
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeComponent(pair.slice(eq + 1));
    if (name === '') throw unparseable('a query parameter has an empty name');
    // Upstreams differ on which of two values wins (first, last, joined): refuse both.
    if (name in out) throw unparseable(`query parameter ${name} is sent more than once`);
    out[name] = value;
  }
  return out;
}
