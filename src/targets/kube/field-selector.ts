/**
 * The name a list or watch selects through its `fieldSelector`, read as the apiserver's RequestInfo
 * reads it (k8s.io/apimachinery `fields`), with the refusals that keep it one reading (SPEC §2.1).
 */
import { unparseable } from '../../reasons.js';

// Go's strconv.ParseInt(s, 10, 64) syntax (no underscores in base 10).
const GO_INT = /^[+-]?[0-9]+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** One term of a Go fields selector (k8s.io/apimachinery `fields.parseSelector`). */
interface FieldTerm {
  readonly field: string;
  readonly op: '!=' | '==' | '=';
  readonly value: string;
}

/**
 * `fields.ParseSelector`: split on `,` not escaped by `\`, split each non-empty term at the first
 * `!=`, `==` or `=` (left side taken literally, not trimmed), and unescape the value (`\\`, `\,`,
 * `\=`; any other escape, a trailing `\`, or a bare `,` or `=` is an error). Returns null on error.
 */
function parseFieldSelector(selector: string): FieldTerm[] | null {
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (escaped) escaped = false;
    else if (c === '\\') escaped = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  if (selector !== '') terms.push(selector.slice(start));
  const out: FieldTerm[] = [];
  for (const term of terms) {
    if (term === '') continue;
    const at = term.search(/!=|==|=/);
    if (at === -1) return null;
    const op = term.startsWith('!=', at) ? '!=' : term.startsWith('==', at) ? '==' : '=';
    const value = unescapeFieldValue(term.slice(at + op.length));
    if (value === null) return null;
    out.push({ field: term.slice(0, at), op, value });
  }
  return out;
}

/** `fields.UnescapeValue`; null where Go returns an error. */
function unescapeFieldValue(s: string): string | null {
  let out = '';
  let escaped = false;
  for (const c of s) {
    if (escaped) {
      if (c !== '\\' && c !== ',' && c !== '=') return null;
      out += c;
      escaped = false;
    } else if (c === '\\') escaped = true;
    else if (c === ',' || c === '=') return null;
    else out += c;
  }
  return escaped ? null : out;
}

/**
 * The name a list or watch names through `fieldSelector=metadata.name=X` (or `==`), as
 * RequestInfo derives it: `RequiresExactMatch("metadata.name")` and then only when X is a valid
 * path segment name (`path.IsValidPathSegmentName`: not `.` or `..`, no `/` or `%`).
 * Refused: a selector the apiserver cannot parse (RequestInfo then ignores it, the list handler
 * rejects it: two readings), and more than one `metadata.name` equality (Go picks the first after
 * a byte-wise sort of the terms, which nobody reading the request would guess).
 */
export function fieldSelectorName(selector: string): string {
  const terms = parseFieldSelector(selector);
  if (terms === null) throw unparseable('the fieldSelector does not parse as the apiserver parses it');
  const names = terms.filter((t) => t.field === 'metadata.name' && t.op !== '!=').map((t) => t.value);
  if (names.length > 1) throw unparseable('the fieldSelector names metadata.name more than once');
  const name = names[0] ?? '';
  if (name === '.' || name === '..' || name.includes('/') || name.includes('%')) return '';
  return name;
}

/**
 * RequestInfo takes a field-selector name only when all of ListOptions decodes; a `limit` or
 * `timeoutSeconds` that is not a Go int64 would make the apiserver drop the name we derived.
 * (A labelSelector that does not parse does the same; the apiserver's list handler then answers
 * 400 from the same decode, so that request has no effect and is not checked here.)
 */
export function requireListIntegers(query: ReadonlyMap<string, readonly string[]>): void {
  for (const param of ['limit', 'timeoutSeconds']) {
    const first = query.get(param)?.[0];
    if (first === undefined) continue;
    const fits = GO_INT.test(first) && BigInt(first) >= INT64_MIN && BigInt(first) <= INT64_MAX;
    if (!fits) throw unparseable(`query parameter ${param} is not an integer`);
  }
}
