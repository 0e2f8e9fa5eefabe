import { unparseable } from '../reasons.js';

/**
 * Strict I-JSON (RFC 7493) parser for untrusted bodies (SPEC §2.1 `jcs_sha256`): the body must
 * mean exactly one thing to the broker and to the upstream. JSON.parse cannot be used because it
 * silently keeps the last of duplicate keys, where other parsers keep the first: a parser
 * differential the agent could use to certify one body and execute another.
 *
 * Refused (each `unparseable_request`, whose detail never echoes body bytes): invalid UTF-8, a
 * BOM, duplicate keys at any depth, numbers whose magnitude loses integer precision in a double
 * (beyond ±(2^53−1), so also 1e400), lone surrogates, nesting deeper than MAX_DEPTH, and
 * anything after the value.
 */
export function parseStrictJson(input: Buffer | string): unknown {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = UTF8.decode(input);
    } catch {
      throw unparseable('JSON body is not valid UTF-8');
    }
  }
  const parser = new Parser(text);
  parser.skipWs();
  const value = parser.value(0);
  parser.skipWs();
  if (parser.pos !== text.length) parser.fail('trailing data');
  return value;
}

/** RFC 7493 §2.3 leaves depth to the implementation; 128 is far beyond any AWS or Kubernetes body. */
export const MAX_DEPTH = 128;

// fatal: invalid UTF-8 is refused, never replaced. ignoreBOM keeps a BOM in the text, where it is
// not JSON whitespace and so is refused (RFC 8259 §8.1: a BOM MUST NOT be added).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const MAX_INT = Number.MAX_SAFE_INTEGER;

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(what: string): never {
    throw unparseable(`JSON body ${what} at offset ${this.pos}`);
  }

  skipWs(): void {
    const s = this.s;
    let i = this.pos;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.pos = i;
  }

  value(depth: number): unknown {
    const c = this.s.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.object(depth + 1);
      case 0x5b: // [
        return this.array(depth + 1);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail(Number.isNaN(c) ? 'ends early' : 'has a syntax error');
    }
  }

  private literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail('has a syntax error');
    this.pos += word.length;
    return v;
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail('nests too deeply');
    this.pos++; // {
    const obj: Record<string, unknown> = {};
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return obj;
    }
    for (;;) {
      if (this.s.charCodeAt(this.pos) !== 0x22) this.fail('has a syntax error');
      const keyAt = this.pos;
      const key = this.string();
      if (Object.hasOwn(obj, key)) {
        this.pos = keyAt;
        this.fail('has a duplicate key');
      }
      this.skipWs();
      if (this.s.charCodeAt(this.pos) !== 0x3a) this.fail('has a syntax error');
      this.pos++;
      this.skipWs();
      const v = this.value(depth);
      // Plain assignment would set the prototype for "__proto__"; JSON.parse makes it an own property.
      if (key === '__proto__') Object.defineProperty(obj, key, { value: v, writable: true, enumerable: true, configurable: true });
      else obj[key] = v;
      this.skipWs();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x2c) {
        this.skipWs();
        continue;
      }
      if (c === 0x7d) return obj;
      this.pos--;
      this.fail('has a syntax error');
    }
  }

  private array(depth: number): unknown[] {
    if (depth > MAX_DEPTH) this.fail('nests too deeply');
    this.pos++; // [
    const arr: unknown[] = [];
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return arr;
    }
    for (;;) {
      arr.push(this.value(depth));
      this.skipWs();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x2c) {
        this.skipWs();
        continue;
      }
      if (c === 0x5d) return arr;
      this.pos--;
      this.fail('has a syntax error');
    }
  }

  /** At an opening quote. Runs without escapes are sliced whole (avoids per-char concatenation). */
  private string(): string {
    const s = this.s;
    let i = this.pos + 1;
    let start = i;
    let out = '';
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        out += s.slice(start, i);
        this.pos = i + 1;
        return out;
      }
      if (c === 0x5c) {
        out += s.slice(start, i);
        this.pos = i;
        out += this.escape();
        i = this.pos;
        start = i;
        continue;
      }
      if (c < 0x20 || Number.isNaN(c)) {
        this.pos = i;
        this.fail(Number.isNaN(c) ? 'ends early' : 'has a control character in a string');
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        // Only a string input can hold raw surrogates (the fatal decoder never yields a lone one).
        const d = s.charCodeAt(i + 1);
        if (c >= 0xdc00 || !(d >= 0xdc00 && d <= 0xdfff)) {
          this.pos = i;
          this.fail('has a lone surrogate');
        }
        i += 2;
        continue;
      }
      i++;
    }
  }

  /** At a backslash; leaves pos after the escape and returns what it stands for. */
  private escape(): string {
    const s = this.s;
    const c = s.charCodeAt(this.pos + 1);
    this.pos += 2;
    switch (c) {
      case 0x22: return '"';
      case 0x5c: return '\\';
      case 0x2f: return '/';
      case 0x62: return '\b';
      case 0x66: return '\f';
      case 0x6e: return '\n';
      case 0x72: return '\r';
      case 0x74: return '\t';
      case 0x75: {
        const u = this.hex4();
        if (u < 0xd800 || u > 0xdfff) return String.fromCharCode(u);
        // A surrogate escape must be a high one immediately followed by an escaped low one.
        if (u <= 0xdbff && s.charCodeAt(this.pos) === 0x5c && s.charCodeAt(this.pos + 1) === 0x75) {
          this.pos += 2;
          const lo = this.hex4();
          if (lo >= 0xdc00 && lo <= 0xdfff) return String.fromCharCode(u, lo);
        }
        this.pos -= 6;
        return this.fail('has a lone surrogate');
      }
      default:
        this.pos -= 2;
        return this.fail('has a bad escape');
    }
  }

  private hex4(): number {
    let u = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.s.charCodeAt(this.pos + k);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else return this.fail('has a bad escape');
      u = (u << 4) | d;
    }
    this.pos += 4;
    return u;
  }

  /** RFC 8259 §6 grammar, checked by hand; Number() then reads the validated slice. */
  private number(): number {
    const s = this.s;
    const start = this.pos;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    let c = s.charCodeAt(i);
    if (c === 0x30) {
      i++;
    } else if (c >= 0x31 && c <= 0x39) {
      do i++;
      while (isDigit(s.charCodeAt(i)));
    } else {
      this.pos = i;
      this.fail('has a bad number');
    }
    c = s.charCodeAt(i);
    if (c === 0x2e) {
      i++;
      if (!isDigit(s.charCodeAt(i))) {
        this.pos = i;
        this.fail('has a bad number');
      }
      do i++;
      while (isDigit(s.charCodeAt(i)));
      c = s.charCodeAt(i);
    }
    if (c === 0x65 || c === 0x45) {
      i++;
      c = s.charCodeAt(i);
      if (c === 0x2b || c === 0x2d) i++;
      if (!isDigit(s.charCodeAt(i))) {
        this.pos = i;
        this.fail('has a bad number');
      }
      do i++;
      while (isDigit(s.charCodeAt(i)));
    }
    const n = Number(s.slice(start, i));
    // An integral double beyond 2^53−1 may not be the integer written (9007199254740993 reads as
    // ...992), and 1e400 reads as Infinity: either way two parsers could disagree on the value.
    if (!Number.isFinite(n) || (Number.isInteger(n) && (n > MAX_INT || n < -MAX_INT))) {
      this.pos = start;
      this.fail('has a number out of range');
    }
    this.pos = i;
    return n;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
