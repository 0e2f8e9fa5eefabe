/**
 * The values an upstream answer hands to later ops of the same certificate (SPEC §2.2 bindings):
 * S3's `UploadId` in the CreateMultipartUpload answer, an UploadPart's `ETag` header. Pure.
 */
import type { Op } from './types.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { findXmlText } from './body-places.js';
import { parseSource } from './locations.js';

/** The sources later ops of `ops` take from op `index`'s answer; [] when none does (the usual case). */
export function sourcesOf(ops: readonly Op[], index: number): readonly string[] {
  const out = new Set<string>();
  for (let i = index + 1; i < ops.length; i++) for (const b of ops[i]!.bind ?? []) if (b.from.op === index) out.add(b.from.value);
  return [...out];
}

/** Whether a source is read from the body (then the answer must be read before it is relayed). */
export function inAnswerBody(source: string): boolean {
  return parseSource(source)?.in !== 'header';
}

/**
 * The value `source` names in the answer, or null when it is not there exactly once. A value with a
 * NUL could never match a binding (the markers hold one), so it is not kept either.
 */
export function answerValue(source: string, headers: Readonly<Record<string, string | string[] | undefined>>, body: Buffer | null): string | null {
  const s = parseSource(source);
  let value: string | null = null;
  if (s === null) return null;
  if (s.in === 'header') {
    const h = headers[s.name];
    value = typeof h === 'string' ? h : null;
  } else if (body !== null && s.in === 'xml') {
    value = findXmlText(body, [{ name: s.name, nth: 1 }])?.value ?? null;
  } else if (body !== null) {
    value = jsonMember(body, s.name);
  }
  return value === null || value.includes('\u0000') ? null : value;
}

function jsonMember(body: Buffer, name: string): string | null {
  let doc: unknown;
  try {
    doc = parseStrictJson(body);
  } catch {
    return null;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !Object.prototype.hasOwnProperty.call(doc, name)) return null;
  const value = (doc as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : null;
}
