/**
 * Finds one named place in a body read byte-wise (SPEC §2.2): a field of a form-encoded body
 * (query and ec2 protocols) or the text of one element of an XML body (S3's
 * CompleteMultipartUpload). Pure. Each finder returns the byte range of the raw value and the
 * value as the upstream decodes it, or null when the place is not there exactly once.
 *
 * The finders need not be a full parser: everything outside the returned ranges is pinned by the
 * body digest, so a body the finder reads differently from the upstream only fails to match. What
 * they must get right is the value itself, whose decoded form the broker checks.
 */
import type { XmlStep } from './locations.js';
import { xmlKey } from './locations.js';

export interface Found {
  readonly start: number;
  readonly end: number;
  readonly value: string;
}

/** `application/x-www-form-urlencoded`: `+` is a space, `%XX` a UTF-8 byte. */
function formDecode(raw: string): string | null {
  try {
    return decodeURIComponent(Buffer.from(raw.replace(/\+/g, ' '), 'latin1').toString('utf8'));
  } catch {
    return null;
  }
}

/** The value of the one field called `name`; null when it is absent, repeated or badly encoded. */
export function findFormField(payload: Buffer, name: string): Found | null {
  // latin1 maps each byte to one character, so string offsets are byte offsets.
  const text = payload.toString('latin1');
  let found: Found | null = null;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end < 0) end = text.length;
    const eq = text.indexOf('=', start);
    const nameEnd = eq >= 0 && eq < end ? eq : end;
    if (formDecode(text.slice(start, nameEnd)) === name) {
      if (found !== null || nameEnd === end) return null;
      const value = formDecode(text.slice(nameEnd + 1, end));
      if (value === null) return null;
      found = { start: nameEnd + 1, end, value };
    }
    start = end + 1;
  }
  return found;
}

const ENTITIES: Readonly<Record<string, string>> = { '&quot;': '"', '&apos;': "'", '&lt;': '<', '&gt;': '>', '&amp;': '&' };
const TAG = /<(\/?)([A-Za-z_][A-Za-z0-9._:-]*)((?:\s+[^<>]*?)?)(\/?)>/y;
const DECLARATION = /^<\?xml\s[^<>?]*\?>/;

/** XML text with the five predefined entities; anything else with `&` (character references too) is refused. */
function xmlText(raw: string): string | null {
  const decoded = raw.replace(/&(?:quot|apos|lt|gt|amp);/g, (e) => ENTITIES[e]!);
  if (/&/.test(raw.replace(/&(?:quot|apos|lt|gt|amp);/g, ''))) return null;
  return Buffer.from(decoded, 'latin1').toString('utf8');
}

/**
 * The text of the element at `path` below the root (`Part[2]/ETag`). Comments, CDATA, DOCTYPE and
 * processing instructions after the declaration are refused: the SDKs send none, and each is a
 * way to hide an element from one reader and not another.
 */
export function findXmlText(payload: Buffer, path: readonly XmlStep[]): Found | null {
  const text = payload.toString('latin1');
  const want = xmlKey(path);
  const stack: { name: string; key: string; counts: Map<string, number> }[] = [];
  let found: Found | null = null;
  let open: { start: number; depth: number } | null = null;
  let rootDone = false;
  let i = DECLARATION.exec(text)?.[0].length ?? 0;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const between = text.slice(i, lt < 0 ? text.length : lt);
    // Outside the root only whitespace; inside, text holds no markup of its own.
    if ((stack.length === 0 && between.trim() !== '') || between.includes('>')) return null;
    if (lt < 0) break;
    if (rootDone) return null;
    TAG.lastIndex = lt;
    const m = TAG.exec(text);
    if (!m) return null;
    const [whole, closing, name, , selfClosing] = m;
    const parent = stack[stack.length - 1];
    if (closing) {
      if (!parent || parent.name !== name || selfClosing) return null;
      stack.pop();
      if (open && open.depth === stack.length) {
        const raw = text.slice(open.start, lt);
        const value = xmlText(raw);
        if (value === null) return null;
        found = { start: open.start, end: lt, value };
        open = null;
      }
      if (stack.length === 0) rootDone = true;
    } else {
      if (open) return null; // the named element holds text only
      let key = '';
      if (parent) {
        const nth = (parent.counts.get(name!) ?? 0) + 1;
        parent.counts.set(name!, nth);
        // The root's own name is not part of the path: locations start below it.
        key = parent.key === '' ? `${name}[${nth}]` : `${parent.key}/${name}[${nth}]`;
        if (key === want) {
          if (found !== null || selfClosing) return null;
          open = { start: lt + whole!.length, depth: stack.length };
        }
      }
      if (selfClosing) {
        if (!parent) rootDone = true;
      } else {
        stack.push({ name: name!, key, counts: new Map() });
      }
    }
    i = lt + whole!.length;
  }
  return stack.length === 0 && rootDone ? found : null;
}
