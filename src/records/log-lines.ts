import { parseStrictJson } from '../lib/strict-json.js';

/**
 * Finds the record in one line of a log as the platform stored it (SPEC §9 `records verify`):
 * a bare record as the broker wrote it (or re-serialised), or a container-log line holding it:
 * - Docker json-file: `{"log":"<record>\n","stream":"stdout","time":"..."}`, a long line split
 *   into several entries whose `log` lacks the final newline;
 * - CRI (containerd, CRI-O): `<time> stdout F <record>`, a long line split into `P` parts;
 * - Fluent Bit and similar: the record as a string or already-parsed object in `log` or `message`.
 * Records are parsed strictly (duplicate keys refused), so the verifier reads each field exactly
 * one way, whatever another consumer of the same log would make of a crafted line.
 */
export type LineResult =
  | { readonly kind: 'blank' }
  /** Part of a split line; the record comes with a later line. */
  | { readonly kind: 'partial' }
  | { readonly kind: 'record'; readonly value: unknown }
  | { readonly kind: 'bad'; readonly detail: string };

const CRI = /^\d{4}-\d\d-\d\dT\S+ (?:stdout|stderr) ([PF]) (.*)$/s;

export class LogLineReader {
  /** Text of a split line gathered so far; null when no line is open. */
  private partial: string | null = null;

  /** True when input ended in the middle of a split line. */
  get open(): boolean {
    return this.partial !== null;
  }

  read(raw: string): LineResult {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return { kind: 'blank' };
    const cri = CRI.exec(line);
    if (cri !== null) {
      const text = (this.partial ?? '') + (cri[2] as string);
      if (cri[1] === 'P') {
        this.partial = text;
        return { kind: 'partial' };
      }
      this.partial = null;
      return parse(text, 'CRI log line');
    }
    const outer = parse(line, 'line');
    if (outer.kind !== 'record') return outer;
    return this.unwrap(outer.value);
  }

  private unwrap(v: unknown): LineResult {
    if (!isObject(v) || Object.hasOwn(v, 'v')) return { kind: 'record', value: v };
    const inner = Object.hasOwn(v, 'log') ? v.log : Object.hasOwn(v, 'message') ? v.message : undefined;
    if (inner === undefined) return { kind: 'record', value: v };
    if (typeof inner !== 'string') return { kind: 'record', value: inner };
    const text = (this.partial ?? '') + inner;
    // Docker json-file keeps the newline on the last piece of a line and splits long lines at 16 KiB.
    if (Object.hasOwn(v, 'log') && !text.endsWith('\n') && parse(text, '').kind !== 'record') {
      this.partial = text;
      return { kind: 'partial' };
    }
    this.partial = null;
    return parse(text.endsWith('\n') ? text.slice(0, -1) : text, 'log field');
  }
}

function parse(text: string, what: string): LineResult {
  try {
    return { kind: 'record', value: parseStrictJson(text) };
  } catch {
    return { kind: 'bad', detail: `the ${what} is not strict JSON` };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
