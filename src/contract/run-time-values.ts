/**
 * Run-time values (SPEC §2.2): the op names where the client or the upstream supplies a value
 * when the command runs. Matching reads each named value out of the request and puts the kind's
 * marker in its place, so every other byte is compared exactly as SPEC §2.1 says; the values
 * read are then checked by kind (here: the pure checks; replay/run-time.ts: the ledger's).
 * Pure: the clock comes in as a number.
 */
import { Denial, type ReasonCode } from '../reasons.js';
import type { BodyBinding, BoundValue, RunTimeFields, VolatileKind } from './types.js';
import { sha256Hex } from '../lib/digest.js';
import { canonicalJson } from '../lib/jcs.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { isJsonMediaType } from './body.js';
import { findFormField, findXmlText, type Found } from './body-places.js';
import { inBody, marker, parseLocation, type Place } from './locations.js';

/** One run-time value the request carried, as records and inspect show it. */
export interface SeenValue {
  readonly at: string;
  readonly value: string;
  /** Set for a volatile value; `from` for a binding. */
  readonly kind?: VolatileKind;
  readonly from?: BoundValue['from'];
}

interface Entry {
  readonly at: string;
  readonly place: Place;
  readonly mark: string;
  readonly kind?: VolatileKind;
  readonly from?: BoundValue['from'];
}

/** An op's entries; empty for an op that pins every byte. */
export function entriesOf(op: RunTimeFields): readonly Entry[] {
  if (op.volatile === undefined && op.bind === undefined) return NONE;
  const out: Entry[] = [];
  for (const v of op.volatile ?? []) out.push({ at: v.at, place: parseLocation(v.at)!, mark: marker(v.kind), kind: v.kind });
  for (const b of op.bind ?? []) out.push({ at: b.at, place: parseLocation(b.at)!, mark: marker('bind'), from: b.from });
  return out;
}
const NONE: readonly Entry[] = Object.freeze([]);

function seen(entry: Entry, value: string): SeenValue {
  return entry.kind ? { at: entry.at, value, kind: entry.kind } : { at: entry.at, value, from: entry.from! };
}

/**
 * `values` with each named parameter or header replaced by its marker, or null when one is absent.
 * Kubernetes parameters are lists: a named one must hold exactly one value.
 */
export function maskFields<V extends string | readonly string[]>(
  values: Readonly<Record<string, V>>,
  entries: readonly Entry[],
  where: 'query' | 'header',
  out: SeenValue[],
): Readonly<Record<string, V>> | null {
  let masked: Record<string, V> | null = null;
  for (const entry of entries) {
    if (entry.place.in !== where) continue;
    const name = entry.place.name;
    if (!Object.prototype.hasOwnProperty.call(values, name)) return null;
    const value = values[name]!;
    const single = typeof value === 'string' ? value : value.length === 1 ? value[0]! : null;
    if (single === null) return null;
    masked ??= Object.assign(Object.create(null) as Record<string, V>, values);
    masked[name] = (typeof value === 'string' ? entry.mark : [entry.mark]) as V;
    out.push(seen(entry, single));
  }
  return masked ?? values;
}

/**
 * The digest of the body with each named value replaced by its marker (SPEC §2.2), and the values
 * read; null when a named place is not in the body exactly once. JSON places are pointers into
 * the strictly parsed body and the digest is of its JCS form (`jcs_sha256`); form and XML places
 * are byte ranges, replaced in the raw bytes (`sha256`), which may then hold no NUL of their own
 * so that the marked form is unambiguous.
 */
export function markedBody(entries: readonly Entry[], payload: Buffer, out: SeenValue[], json: () => unknown = () => parseStrictJson(payload)): string | null {
  const places = entries.filter((e) => inBody(e.place));
  if (places.some((e) => e.place.in === 'json')) return markedJson(places, json(), out);
  if (payload.includes(0)) return null;
  const ranges: (Found & { entry: Entry })[] = [];
  for (const entry of places) {
    const p = entry.place;
    const found = p.in === 'form' ? findFormField(payload, p.name) : p.in === 'xml' ? findXmlText(payload, p.path) : null;
    if (found === null) return null;
    ranges.push({ ...found, entry });
  }
  ranges.sort((a, b) => a.start - b.start);
  const parts: Buffer[] = [];
  let at = 0;
  for (const r of ranges) {
    if (r.start < at) return null;
    parts.push(payload.subarray(at, r.start), Buffer.from(r.entry.mark, 'utf8'));
    at = r.end;
    out.push(seen(r.entry, r.value));
  }
  parts.push(payload.subarray(at));
  return sha256Hex(Buffer.concat(parts));
}

/**
 * `doc` is the body parsed once and shared with the other stages that read it (lib/parsed-body.ts,
 * the AWS json reading), so it is never changed: each mark goes into a copy of the containers on
 * its path, sharing every part it does not touch.
 */
function markedJson(places: readonly Entry[], doc: unknown, out: SeenValue[]): string | null {
  let marked = doc;
  for (const entry of places) {
    if (entry.place.in !== 'json' || entry.place.pointer.length === 0) return null;
    const next = withMark(marked, entry.place.pointer, entry.mark);
    if (next === null) return null;
    marked = next.node;
    out.push(seen(entry, next.value));
  }
  return sha256Hex(canonicalJson(marked));
}

/** `node` with the string at `tokens` replaced by `mark` (copied on its path), and that string; null when there is none. */
function withMark(node: unknown, tokens: readonly string[], mark: string): { node: unknown; value: string } | null {
  const [token, ...rest] = tokens;
  if (token === undefined) return typeof node === 'string' ? { node: mark, value: node } : null;
  const inner = withMark(child(node, token), rest, mark);
  if (inner === null) return null;
  // child() found `token` as an own member, so the copy's own member is what the assignment sets.
  const copy: Record<string, unknown> = Array.isArray(node) ? [...(node as unknown[])] as unknown as Record<string, unknown> : { ...(node as Record<string, unknown>) };
  copy[token] = inner.node;
  return { node: copy, value: inner.value };
}

/** RFC 6901 §4: an object member, or an array index without leading zeros. */
function child(parent: unknown, token: string): unknown {
  if (Array.isArray(parent)) return /^(0|[1-9][0-9]*)$/.test(token) ? parent[Number(token)] : undefined;
  if (typeof parent === 'object' && parent !== null && Object.prototype.hasOwnProperty.call(parent, token)) {
    return (parent as Record<string, unknown>)[token];
  }
  return undefined;
}

/**
 * Does the marked body satisfy the binding? The schema pairs JSON places with jcs_sha256, the rest
 * with sha256; as for any jcs_sha256 body (body.ts), only a JSON media type is read as JSON.
 */
export function markedBodyMatches(
  binding: BodyBinding,
  entries: readonly Entry[],
  payload: Buffer,
  contentType: string | undefined,
  out: SeenValue[],
  json?: () => unknown,
): boolean {
  if (binding === null || 'any' in binding) return false;
  if ('jcs_sha256' in binding && !isJsonMediaType(contentType)) return false;
  const digest = markedBody(entries, payload, out, json);
  return digest !== null && digest === ('sha256' in binding ? binding.sha256 : binding.jcs_sha256);
}

export function hasBodyPlaces(entries: readonly Entry[]): boolean {
  return entries.some((e) => inBody(e.place));
}

/** RFC 3339 date-time (§5.6), upper-case `T` and `Z` as Go, botocore and the JS SDK write it. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;
/** The form botocore (`uuid.uuid4()`) and the JS SDK (`v4()`) give members marked `idempotencyToken`. */
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Whether `value` has the form the SDKs give a generated idempotency token. */
export function isIdempotencyToken(value: string): boolean {
  return UUID_V4.test(value);
}

/** Seconds since the epoch, or null when `value` is not an RFC 3339 date-time that exists. */
export function rfc3339Seconds(value: string): number | null {
  const m = RFC3339.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, , zone, oh, om] = m;
  const ms = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!);
  const back = new Date(ms);
  // Date.UTC rolls 02-30 over to 03-02: a date that does not exist is not a timestamp.
  if (back.getUTCMonth() !== +mo! - 1 || back.getUTCDate() !== +d! || +h! > 23 || +mi! > 59 || +s! > 59) return null;
  if (zone !== 'Z' && (+oh! > 23 || +om! > 59)) return null;
  const offset = zone === 'Z' ? 0 : (zone![0] === '-' ? -1 : 1) * (+oh! * 60 + +om!) * 60;
  return ms / 1000 - offset;
}

/** What the checks need of the certificate and the broker's clock (seconds). */
export interface CheckWindow {
  readonly nbf: number;
  readonly exp: number;
  readonly now: number;
  readonly skew: number;
}

/**
 * The volatile values' own checks (SPEC §2.2); tokens are also counted by the ledger. A value that
 * fails is a mismatch where it sits: `body_mismatch` in the body, `contract_mismatch` in a
 * parameter or header (the parts of the request each code covers in SPEC §4).
 */
export function checkVolatile(values: readonly SeenValue[], w: CheckWindow): void {
  for (const v of values) {
    if (v.kind === 'timestamp') {
      const t = rfc3339Seconds(v.value);
      if (t === null) throw mismatch(v, 'is not an RFC 3339 timestamp');
      if (t < w.nbf - w.skew || t >= w.exp + w.skew) throw mismatch(v, "is outside the certificate's validity window");
      if (Math.abs(t - w.now) > w.skew) throw mismatch(v, "is not within trust.clock_skew of the broker's clock");
    } else if (v.kind === 'idempotency_token') {
      if (!isIdempotencyToken(v.value)) throw mismatch(v, 'is not an idempotency token of the SDK form (a UUID v4)');
    }
  }
}

/** The denial for a run-time value that does not hold, coded by where the value sits. */
export function mismatch(v: SeenValue, problem: string): Denial {
  const place = parseLocation(v.at);
  const code: ReasonCode = place !== null && inBody(place) ? 'body_mismatch' : 'contract_mismatch';
  return new Denial(code, `the run-time value at ${v.at} ${problem}`);
}
