/**
 * A strict reader for the DeleteObjects request body: the keys it names decide the IAM
 * permissions (reference/aws.md §1: s3:DeleteObject for each key), so the broker must read exactly
 * the keys S3 will. Only the plain XML S3's model describes is accepted; anything whose reading
 * depends on an XML parser's choices (DOCTYPE and its entities, CDATA, comments, processing
 * instructions, namespace prefixes, line-end normalisation) is refused `unparseable_request`.
 */
import { unparseable } from '../../reasons.js';

export interface DeletedObject {
  readonly key: string;
  readonly versionId: string | null;
}

/** S3's limit per DeleteObjects request. */
export const MAX_DELETE_OBJECTS = 1000;

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
// Fatal and BOM-preserving: a BOM or invalid UTF-8 is refused, never silently repaired.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// Sticky (`y`) expressions match at the reader's position without copying the rest of the text.
// XML whitespace is exactly space, tab, CR and LF (JavaScript's \s would take more).
const DECLARATION = /<\?xml[ \t\r\n]+version=(["'])1\.0\1(?:[ \t\r\n]+encoding=(["'])[Uu][Tt][Ff]-8\2)?(?:[ \t\r\n]+standalone=(["'])(?:yes|no)\3)?[ \t\r\n]*\?>/y;
const OPEN_DELETE = /<Delete(?:[ \t\r\n]+xmlns=(["'])([^"'<>&]*)\1)?[ \t\r\n]*>/y;
const OPEN_ELEMENT = /<([A-Za-z]+)>/y;
const SPACE = /[ \t\r\n]*/y;
const ENTITIES: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
});
// Members of ObjectIdentifier other than Key and VersionId: conditions S3 checks, kept as text.
const CONDITIONS = new Set(['ETag', 'LastModifiedTime', 'Size']);

/** The objects a DeleteObjects body names, in order. */
export function parseDeleteObjects(body: Buffer): DeletedObject[] {
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw unparseable('DeleteObjects body is not valid UTF-8');
  }
  const r = new Reader(text);
  r.optional(DECLARATION);
  r.space();
  const open = r.expect(OPEN_DELETE, 'DeleteObjects body must start with <Delete>');
  if (open[2] !== undefined && open[2] !== S3_NAMESPACE) throw unparseable('DeleteObjects body has another XML namespace');

  const objects: DeletedObject[] = [];
  let quiet = false;
  for (;;) {
    r.space();
    if (r.take('</Delete>')) break;
    if (r.take('<Quiet>')) {
      if (quiet) throw unparseable('DeleteObjects body has two <Quiet> elements');
      const value = r.text('Quiet');
      if (value !== 'true' && value !== 'false') throw unparseable('<Quiet> must be true or false');
      quiet = true;
    } else if (r.take('<Object>')) {
      objects.push(readObject(r));
      if (objects.length > MAX_DELETE_OBJECTS) throw unparseable(`DeleteObjects names more than ${MAX_DELETE_OBJECTS} objects`);
    } else {
      throw unparseable('DeleteObjects body holds an element other than <Object> or <Quiet>');
    }
  }
  r.space();
  if (!r.done()) throw unparseable('DeleteObjects body continues after </Delete>');
  if (objects.length === 0) throw unparseable('DeleteObjects names no object');
  return objects;
}

function readObject(r: Reader): DeletedObject {
  let key: string | null = null;
  let versionId: string | null = null;
  const seen = new Set<string>();
  for (;;) {
    r.space();
    if (r.take('</Object>')) break;
    const name = r.expect(OPEN_ELEMENT, 'an <Object> holds something other than an element')[1]!;
    if (seen.has(name)) throw unparseable(`an <Object> has two <${name}> elements`);
    seen.add(name);
    const value = r.text(name);
    if (name === 'Key') key = value;
    else if (name === 'VersionId') versionId = value;
    else if (!CONDITIONS.has(name)) throw unparseable(`an <Object> holds an unknown element <${name}>`);
  }
  if (key === null || key === '') throw unparseable('an <Object> has no <Key>');
  if (versionId === '') throw unparseable('an <Object> has an empty <VersionId>');
  return { key, versionId };
}

class Reader {
  #pos = 0;
  constructor(readonly s: string) {}

  done(): boolean {
    return this.#pos === this.s.length;
  }

  space(): void {
    this.optional(SPACE);
  }

  take(literal: string): boolean {
    if (!this.s.startsWith(literal, this.#pos)) return false;
    this.#pos += literal.length;
    return true;
  }

  /** Matches the sticky `re` at the current position. */
  optional(re: RegExp): RegExpExecArray | null {
    re.lastIndex = this.#pos;
    const m = re.exec(this.s);
    if (m !== null) this.#pos = re.lastIndex;
    return m;
  }

  expect(re: RegExp, detail: string): RegExpExecArray {
    const m = this.optional(re);
    if (m === null) throw unparseable(detail);
    return m;
  }

  /** Character data up to `</name>`, with the five XML entities and character references decoded. */
  text(name: string): string {
    const end = this.s.indexOf('<', this.#pos);
    if (end === -1 || !this.s.startsWith(`</${name}>`, end)) throw unparseable(`<${name}> does not hold plain text`);
    const raw = this.s.slice(this.#pos, end);
    this.#pos = end + name.length + 3;
    return decodeText(raw);
  }
}

function decodeText(raw: string): string {
  if (raw.includes(']]>')) throw unparseable('XML text holds ]]>');
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const amp = raw.indexOf('&', i);
    const plain = amp === -1 ? raw.slice(i) : raw.slice(i, amp);
    for (const ch of plain) {
      // A raw CR would be normalised to LF by S3's XML parser: the key would not be the one read.
      if (ch === '\r' || !isXmlChar(ch.codePointAt(0) ?? 0)) throw unparseable('XML text holds a character that must be escaped');
    }
    out += plain;
    if (amp === -1) break;
    const semi = raw.indexOf(';', amp);
    const ref = semi === -1 ? '' : raw.slice(amp + 1, semi);
    out += decodeReference(ref);
    i = semi + 1;
  }
  return out;
}

function decodeReference(ref: string): string {
  const named = ENTITIES[ref];
  if (named !== undefined) return named;
  const m = /^#(?:([0-9]{1,7})|x([0-9A-Fa-f]{1,6}))$/.exec(ref);
  if (m === null) throw unparseable('XML text holds an unknown entity');
  const code = m[1] !== undefined ? parseInt(m[1], 10) : parseInt(m[2]!, 16);
  if (!isXmlChar(code)) throw unparseable('XML character reference is not an XML 1.0 character');
  return String.fromCodePoint(code);
}

/** XML 1.0 `Char`: what a conforming parser accepts, raw or as a reference. */
function isXmlChar(c: number): boolean {
  return (
    c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff)
  );
}
