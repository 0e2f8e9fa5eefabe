/**
 * RFC 8785 (JCS) written out from the RFC for the fuzz properties: a second implementation beside
 * src/lib/jcs.ts (which wraps the `canonicalize` package). Numbers use ECMAScript's
 * Number::toString (RFC 8785 §3.2.2.3 defines them so), strings escape exactly `"`, `\` and the
 * C0 controls (§3.2.2.2), member names sort by UTF-16 code units (§3.2.3). Throws on what JSON
 * cannot hold: non-finite numbers, lone surrogates, values other than JSON's.
 */

const SHORT: Readonly<Record<number, string>> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r' };

function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20) out += SHORT[c] ?? `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) throw new TypeError('lone surrogate');
      out += s[i]! + s[i + 1]!;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) throw new TypeError('lone surrogate');
    else out += s[i];
  }
  return out + '"';
}

/** UTF-16 code unit order, spelled out rather than trusting a default. */
function byCodeUnits(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function referenceJcs(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError('not a finite number');
    return Object.is(v, -0) ? '0' : String(v);
  }
  if (typeof v === 'string') return quote(v);
  if (Array.isArray(v)) return `[${v.map(referenceJcs).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v).sort(byCodeUnits);
    return `{${keys.map((k) => `${quote(k)}:${referenceJcs((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  throw new TypeError(`JSON cannot hold a ${typeof v}`);
}

/** Deep equality of JSON values where -0 equals 0 (JSON cannot tell them apart after a round trip). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => sameJson(x, (b as unknown[])[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** String.prototype.isWellFormed (ES2024, newer than the project's lib): no lone surrogate. */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}
