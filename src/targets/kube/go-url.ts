/**
 * Go's net/url decoding as the apiserver applies it before RequestInfo splits a request
 * (request-info.ts): `url.PathUnescape` for the path and `url.ParseQuery` for the query, each
 * refusing, as `unparseable_request`, every input where Go and this code could disagree.
 */
import { unparseable } from '../../reasons.js';

// Fatal: a path or query whose escapes are not UTF-8 is refused. Go keeps such bytes as they are;
// a JS string cannot, so two byte strings could otherwise read as one name.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// Raw request-target characters kubectl and client-go ever send: printable ASCII. `#` is excluded
// because Go's ParseRequestURI keeps it in the path while other HTTP stacks cut a fragment there.
const RAW_CHAR = /^[\x21-\x22\x24-\x7e]*$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;

/**
 * Percent-decodes like Go's `unescape` (strict `%XX`; `+` a space only when `plusIsSpace`, as in
 * url.QueryUnescape) and returns the UTF-8 text. Throws `unparseable` on a bad escape.
 */
function goUnescape(s: string, plusIsSpace: boolean, what: string): string {
  if (!RAW_CHAR.test(s)) throw unparseable(`the ${what} holds a character that is not printable ASCII or a raw #`);
  if (!s.includes('%') && !(plusIsSpace && s.includes('+'))) return s; // nothing to decode
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!HEX2.test(hex)) throw unparseable(`the ${what} holds a % that is not followed by two hex digits`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(plusIsSpace && ch === 0x2b ? 0x20 : ch);
    }
  }
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    throw unparseable(`percent-decoding the ${what} does not give valid UTF-8`);
  }
}

/**
 * Go's `url.ParseQuery` (Go 1.17+), which the apiserver uses for every query parameter: split on
 * `&`, skip empty pieces, refuse `;` (Go rejects it as a separator; `req.URL.Query()` would then
 * silently drop that piece), the name is up to the first `=` and a piece without `=` has the
 * value `''`, and `+` decodes to a space in names and values. Go drops pieces with a bad escape and
 * carries on; here any bad escape refuses the whole request. Values keep their order per name.
 */
export function parseKubeQuery(rawQuery: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (rawQuery.includes(';')) throw unparseable('the query holds a ; (Go refuses it as a separator)');
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = goUnescape(eq === -1 ? piece : piece.slice(0, eq), true, 'query');
    const value = eq === -1 ? '' : goUnescape(piece.slice(eq + 1), true, 'query');
    const values = out.get(name);
    if (values) values.push(value);
    else out.set(name, [value]);
  }
  return out;
}

/**
 * Decodes the path like Go's url.PathUnescape and splits it into segments, refusing everything
 * that the apiserver's RequestInfo, its router or a proxy in between could split differently.
 */
export function pathSegments(rawPath: string): { path: string; segments: string[] } {
  if (!rawPath.startsWith('/')) throw unparseable('the request path does not start with /');
  // An encoded / would be decoded before the split (reference/k8s.md §1: `configmaps/a%2Fb` is
  // name `a`, subresource `b`); an encoded \ is a separator to some proxies.
  if (/%(2f|5c)/i.test(rawPath)) throw unparseable('the request path holds an encoded / or \\');
  const path = goUnescape(rawPath, false, 'path');
  // Control characters and \ never occur in a Kubernetes name; they only confuse readers and logs.
  if (/[\x00-\x1f\x7f\\]/.test(path)) throw unparseable('the request path holds a control character or \\');
  // Nor does % (path.IsValidPathSegmentName): an encoded % (`%252F`) only matters to a proxy
  // backend that decodes the path a second time, which is exactly the differential to avoid.
  if (path.includes('%')) throw unparseable('the request path holds an encoded %');
  if (path === '/') return { path, segments: [] };
  const segments = path.slice(1).split('/');
  // The apiserver trims slashes before splitting, but its router matches the untrimmed path:
  // `/api/v1/pods/` and `//api/v1/pods` could be read two ways, so empty segments are refused,
  // including a trailing / (clients build paths with path.Join and never send one).
  if (segments.includes('')) throw unparseable('the request path holds an empty segment');
  if (segments.includes('.') || segments.includes('..')) throw unparseable('the request path holds a . or .. segment');
  return { path, segments };
}
