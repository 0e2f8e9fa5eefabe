/**
 * Where a run-time value sits (SPEC §2.2, docs/run-time-values.md "Locations"): one exact place,
 * never a pattern. Pure parsers of the location strings an op names, and of the places in an
 * upstream answer a binding takes its value from.
 */
import type { VolatileKind } from './types.js';

/** One element step below the root of an XML body: `Part[2]` is the second `Part` child. */
export interface XmlStep {
  readonly name: string;
  /** 1-based, as XPath counts. */
  readonly nth: number;
}

export type Place =
  | { readonly in: 'json'; readonly pointer: readonly string[] }
  | { readonly in: 'form'; readonly name: string }
  | { readonly in: 'xml'; readonly path: readonly XmlStep[] }
  | { readonly in: 'query'; readonly name: string }
  | { readonly in: 'header'; readonly name: string };

/** Where in an upstream answer a bound value comes from. */
export type Source =
  | { readonly in: 'header'; readonly name: string }
  | { readonly in: 'xml' | 'json'; readonly name: string };

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const XML_NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;
const XML_STEP = /^([A-Za-z_][A-Za-z0-9._-]*)(?:\[([1-9][0-9]{0,3})\])?$/;

/**
 * What replaces a run-time value before the body binding is computed: it holds a NUL, which no
 * timestamp, UUID or relayed S3 value holds and which the bodies read byte-wise (form, XML) may
 * not hold either, so the marked form of a body is unambiguous (docs/run-time-values.md).
 */
export function marker(kind: VolatileKind | 'bind'): string {
  return `\u0000seb:${kind}`;
}

/** The place `at` names, or null when it is not one exact location. */
export function parseLocation(at: string): Place | null {
  if (at.startsWith('/')) {
    const pointer = parsePointer(at);
    return pointer && { in: 'json', pointer };
  }
  const colon = at.indexOf(':');
  if (colon < 1) return null;
  const scheme = at.slice(0, colon);
  const rest = at.slice(colon + 1);
  if (rest === '') return null;
  switch (scheme) {
    case 'query':
    case 'form':
      return { in: scheme, name: rest };
    case 'header':
      return HEADER_NAME.test(rest) ? { in: 'header', name: rest } : null;
    case 'xml': {
      const path: XmlStep[] = [];
      for (const step of rest.split('/')) {
        const m = XML_STEP.exec(step);
        if (!m) return null;
        path.push({ name: m[1]!, nth: m[2] ? Number(m[2]) : 1 });
      }
      return { in: 'xml', path };
    }
    default:
      return null;
  }
}

/** Whether the place is inside the body (then the body binding covers the rest of it). */
export function inBody(place: Place): boolean {
  return place.in === 'json' || place.in === 'form' || place.in === 'xml';
}

/** The source `value` names, or null. */
export function parseSource(value: string): Source | null {
  const colon = value.indexOf(':');
  const scheme = value.slice(0, colon);
  const name = value.slice(colon + 1);
  if (colon < 1 || name === '') return null;
  if (scheme === 'header') return HEADER_NAME.test(name) ? { in: 'header', name } : null;
  if (scheme === 'xml') return XML_NAME.test(name) ? { in: 'xml', name } : null;
  if (scheme === 'json') return { in: 'json', name };
  return null;
}

/** `xml:Part[2]/ETag` with each count spelled out, the key XML bodies are searched by. */
export function xmlKey(path: readonly XmlStep[]): string {
  return path.map((s) => `${s.name}[${s.nth}]`).join('/');
}

/** RFC 6901: `~1` is `/`, `~0` is `~`, any other `~` is an error. The root pointer names no value. */
function parsePointer(at: string): string[] | null {
  const tokens = at.slice(1).split('/');
  const out: string[] = [];
  for (const token of tokens) {
    if (/~(?![01])/.test(token)) return null;
    out.push(token.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  return out;
}
