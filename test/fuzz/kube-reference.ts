/**
 * A second implementation of the apiserver's RequestInfo, transcribed for the fuzz properties from
 * k8s.io/apiserver `pkg/endpoints/request/requestinfo.go` (kubernetes/kubernetes
 * db8b216c556cbd896ffb49a0a7bf13443230d18c, AuthorizeWithSelectors on) and the Go library calls it
 * makes: net/url's path and query decoding, apimachinery's field selector parser. Written from that
 * source, not from src/, so the two can disagree; where Go keeps bytes a JS string cannot (invalid
 * UTF-8), it says so instead of guessing.
 */

export interface GoRequestInfo {
  readonly isResource: boolean;
  readonly verb: string;
  readonly apiPrefix: string;
  readonly group: string;
  readonly version: string;
  readonly namespace: string;
  readonly resource: string;
  readonly subresource: string;
  readonly name: string;
  readonly parts: readonly string[];
  readonly path: string;
  readonly fieldSelector: string;
  readonly labelSelector: string;
  /** False when `name` depends on a ListOptions decode this reference does not model. */
  readonly nameKnown: boolean;
}

/** What the apiserver does with a request this reference reads. */
export type GoResult = { readonly kind: 'info'; readonly info: GoRequestInfo } | { readonly kind: 'error'; readonly why: string };

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** net/url `unescape`: strict `%XX`; `+` is a space only in query mode. null on a Go error or on bytes JS cannot hold. */
function unescape(s: string, query: boolean): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) return null;
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (query && c === 0x2b) {
      bytes.push(0x20);
    } else {
      for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
    }
  }
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

/** url.ParseQuery as `req.URL.Query()` uses it: bad pieces (a `;`, a bad escape) are dropped, not fatal. */
export function goQuery(raw: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const piece of raw.split('&')) {
    if (piece === '' || piece.includes(';')) continue;
    const eq = piece.indexOf('=');
    const k = unescape(eq === -1 ? piece : piece.slice(0, eq), true);
    const v = eq === -1 ? '' : unescape(piece.slice(eq + 1), true);
    if (k === null || v === null) continue;
    out.set(k, [...(out.get(k) ?? []), v]);
  }
  return out;
}

/** fields.splitTerms: split on `,` not preceded by an unescaped `\`. */
function splitTerms(s: string): string[] {
  if (s === '') return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < s.length; i++) {
    if (escaped) escaped = false;
    else if (s[i] === '\\') escaped = true;
    else if (s[i] === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** fields.UnescapeValue. */
function unescapeValue(s: string): string | null {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const n = s[i + 1];
      if (n !== '\\' && n !== ',' && n !== '=') return null;
      out += n;
      i++;
    } else if (c === ',' || c === '=') return null;
    else out += c;
  }
  return out;
}

/** fields.ParseSelector then RequiresExactMatch("metadata.name"): [value, found], or null on a parse error. */
function exactName(selector: string): [string, boolean] | null {
  const parts = splitTerms(selector).sort();
  const items: { field: string; op: string; value: string }[] = [];
  for (const part of parts) {
    if (part === '') continue;
    let split: [string, string, string] | null = null;
    for (let i = 0; i < part.length && split === null; i++) {
      for (const op of ['!=', '==', '=']) {
        if (part.startsWith(op, i)) {
          split = [part.slice(0, i), op, part.slice(i + op.length)];
          break;
        }
      }
    }
    if (split === null) return null;
    const value = unescapeValue(split[2]);
    if (value === null) return null;
    items.push({ field: split[0], op: split[1], value });
  }
  for (const it of items) if (it.op !== '!=' && it.field === 'metadata.name') return [it.value, true];
  return ['', false];
}

/** Query values of the ListOptions fields whose decode can fail, and whether this reference can judge them. */
function listOptionsDecodes(q: Map<string, string[]>): boolean | null {
  for (const [name, values] of q) {
    const v = values[0]!;
    if (name === 'limit' || name === 'timeoutSeconds') {
      if (!/^[+-]?\d+$/.test(v) || BigInt(v) > 2n ** 63n - 1n || BigInt(v) < -(2n ** 63n)) return false;
    } else if (name === 'labelSelector') {
      if (!/^[a-z0-9]+=[a-z0-9]+$/.test(v)) return null;
    } else if (name === 'fieldSelector') {
      if (exactName(v) === null) return false;
    } else if (['allowWatchBookmarks', 'sendInitialEvents', 'resourceVersionMatch'].includes(name)) {
      return null;
    }
  }
  return true;
}

export function goRequestInfo(method: string, rawPath: string, rawQuery: string): GoResult {
  const path = unescape(rawPath, false);
  if (path === null) return { kind: 'error', why: 'the path does not decode' };
  const q = goQuery(rawQuery);
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  let parts = trimmed === '' ? [] : trimmed.split('/');
  const info = {
    isResource: false, verb: method.toLowerCase(), apiPrefix: '', group: '', version: '', namespace: '', resource: '', subresource: '', name: '',
    parts: [] as string[], path, fieldSelector: '', labelSelector: '', nameKnown: true,
  };
  if (parts.length < 3 || (parts[0] !== 'api' && parts[0] !== 'apis')) return { kind: 'info', info };
  info.apiPrefix = parts[0]!;
  parts = parts.slice(1);
  if (info.apiPrefix !== 'api') {
    if (parts.length < 3) return { kind: 'info', info };
    info.group = parts[0]!;
    parts = parts.slice(1);
  }
  info.isResource = true;
  info.version = parts[0]!;
  parts = parts.slice(1);
  let viaPath = false;
  if (parts[0] === 'proxy' || parts[0] === 'watch') {
    if (parts.length < 2) return { kind: 'error', why: 'unable to determine kind and namespace from url' };
    info.verb = parts[0];
    parts = parts.slice(1);
    viaPath = true;
  } else {
    info.verb = ({ POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method] ?? '';
  }
  if (parts[0] === 'namespaces' && parts.length > 1) {
    info.namespace = parts[1]!;
    if (parts.length > 2 && parts[2] !== 'status' && parts[2] !== 'finalize') parts = parts.slice(2);
  }
  info.parts = parts;
  if (parts.length >= 3 && info.verb !== 'proxy') info.subresource = parts[2]!;
  if (parts.length >= 2) info.name = parts[1]!;
  if (parts.length >= 1) info.resource = parts[0]!;
  if (info.name === '' && info.verb === 'get') {
    const decodes = listOptionsDecodes(q);
    const watch = q.get('watch')?.[0];
    info.verb = watch !== undefined && !['false', '0'].includes(watch.toLowerCase()) ? 'watch' : 'list';
    const fs = q.get('fieldSelector')?.[0];
    if (fs !== undefined) {
      if (decodes === null) info.nameKnown = false;
      else if (decodes) {
        const [name, found] = exactName(fs)!;
        if (found && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%')) info.name = name;
      }
    }
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';
  if (!viaPath && ['list', 'watch', 'deletecollection'].includes(info.verb)) {
    info.fieldSelector = q.get('fieldSelector')?.[0] ?? '';
    info.labelSelector = q.get('labelSelector')?.[0] ?? '';
  }
  return { kind: 'info', info };
}
