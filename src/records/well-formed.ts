/**
 * Agent-supplied strings may hold lone surrogates, which JSON can carry only as escapes that many
 * pipelines mangle, and which JCS refuses (RFC 8785 §3.2.2.2). SPEC §8 requires recorded strings
 * to be always valid, so they are replaced with U+FFFD, in object keys as well as values.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function wellFormedString(s: string): string {
  return s.replace(LONE_SURROGATE, '\ufffd');
}

/** A copy of a JSON-like value with every string (keys too) made well-formed. */
export function wellFormed(value: unknown): unknown {
  if (typeof value === 'string') return wellFormedString(value);
  if (value === null || typeof value !== 'object') return value;
  // Follow JSON.stringify: a Date (or anything with toJSON) is recorded as what toJSON returns.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return wellFormed(toJSON.call(value));
  if (Array.isArray(value)) return value.map(wellFormed);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    Object.defineProperty(out, wellFormedString(k), { value: wellFormed(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
