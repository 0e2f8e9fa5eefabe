/**
 * The optional op fields `volatile` and `bind` (SPEC §2.2), parsed strictly: each entry names one
 * exact location that exists in the op's pinned request form, and a binding names an earlier AWS
 * op of the same certificate. Pure: no I/O, no clock.
 */
import { Denial } from '../reasons.js';
import { inBody, marker, parseLocation, parseSource, type Place } from './locations.js';
import type { BodyBinding, BoundValue, Op, RunTimeFields, VolatileKind, VolatileValue } from './types.js';

const KINDS: readonly VolatileKind[] = ['timestamp', 'idempotency_token'];
/** The places each target's requests have: Kubernetes pins no headers and reads no form or XML bodies. */
const K8S_PLACES: ReadonlySet<Place['in']> = new Set(['json', 'query']);
/** More than this many run-time values in one op would be a template, not one command. */
const MAX_ENTRIES = 32;

type Obj = Record<string, unknown>;

/** The pinned request form an entry must point into. */
export interface PinnedForm {
  readonly target: Op['target'];
  readonly params: Readonly<Record<string, string | readonly string[]>>;
  readonly headers: Readonly<Record<string, string>> | null;
  readonly body: BodyBinding;
}

/** Parses `obj.volatile` and `obj.bind` when present; `earlier` are the certificate's ops before this one. */
export function runTimeFields(obj: Obj, pinned: PinnedForm, earlier: readonly Op[], at: string): RunTimeFields {
  const seen = new Set<string>();
  const out: { volatile?: readonly VolatileValue[]; bind?: readonly BoundValue[] } = {};
  if (Object.hasOwn(obj, 'volatile')) {
    out.volatile = Object.freeze(entries(obj['volatile'], `${at}.volatile`).map((e, i) => volatileEntry(e, pinned, seen, `${at}.volatile[${i}]`)));
  }
  if (Object.hasOwn(obj, 'bind')) {
    if (pinned.target !== 'aws') throw bad(`${at}.bind`, 'only aws ops take bindings (the broker remembers only AWS answers)');
    out.bind = Object.freeze(entries(obj['bind'], `${at}.bind`).map((e, i) => boundEntry(e, pinned, earlier, seen, `${at}.bind[${i}]`)));
  }
  return out;
}

function entries(value: unknown, at: string): Obj[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ENTRIES) throw bad(at, `must be an array of 1 to ${MAX_ENTRIES} entries`);
  return value.map((e: unknown, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad(`${at}[${i}]`, 'must be an object');
    return e as Obj;
  });
}

function volatileEntry(e: Obj, pinned: PinnedForm, seen: Set<string>, at: string): VolatileValue {
  exactFields(e, ['at', 'kind'], at);
  const kind = e['kind'];
  if (!KINDS.includes(kind as VolatileKind)) throw bad(`${at}.kind`, `must be one of ${KINDS.join(', ')}`);
  const where = location(e['at'], pinned, kind as VolatileKind, seen, `${at}.at`);
  return Object.freeze({ at: where, kind: kind as VolatileKind });
}

function boundEntry(e: Obj, pinned: PinnedForm, earlier: readonly Op[], seen: Set<string>, at: string): BoundValue {
  exactFields(e, ['at', 'from'], at);
  const where = location(e['at'], pinned, 'bind', seen, `${at}.at`);
  const from = e['from'];
  if (typeof from !== 'object' || from === null || Array.isArray(from)) throw bad(`${at}.from`, 'must be an object {op, value}');
  exactFields(from as Obj, ['op', 'value'], `${at}.from`);
  const { op, value } = from as Obj;
  if (typeof op !== 'number' || !Number.isInteger(op) || op < 0 || op >= earlier.length) {
    throw bad(`${at}.from.op`, 'must be the index of an earlier op of this certificate');
  }
  if (earlier[op]!.target !== 'aws') throw bad(`${at}.from.op`, 'must name an aws op');
  if (typeof value !== 'string' || parseSource(value) === null) {
    throw bad(`${at}.from.value`, 'must be header:NAME, xml:NAME or json:NAME');
  }
  return Object.freeze({ at: where, from: Object.freeze({ op, value }) });
}

/**
 * The entry's location, which must be one exact place the pinned form has: a parameter or header
 * pinned to the kind's marker, or a body whose binding is computed the way that place is read
 * (JSON pointers need `jcs_sha256`, form fields and XML elements the byte-wise `sha256`).
 */
function location(value: unknown, pinned: PinnedForm, kind: VolatileKind | 'bind', seen: Set<string>, at: string): string {
  if (typeof value !== 'string') throw bad(at, 'must be a string');
  const place = parseLocation(value);
  if (place === null) throw bad(at, 'must be /json/pointer, form:NAME, xml:A[n]/B, query:NAME or header:NAME');
  if (pinned.target === 'k8s' && !K8S_PLACES.has(place.in)) throw bad(at, 'a k8s op names a JSON pointer or query:NAME');
  if (seen.has(value)) throw bad(at, 'names a location already named');
  seen.add(value);
  const mark = marker(kind);
  if (place.in === 'query') {
    const pinnedValue = pinned.params[place.name];
    const ok = Array.isArray(pinnedValue) ? pinnedValue.length === 1 && pinnedValue[0] === mark : pinnedValue === mark;
    if (!ok) throw bad(at, `params.${place.name} must be pinned to the marker ${JSON.stringify(mark)}`);
  } else if (place.in === 'header') {
    if (pinned.headers?.[place.name] !== mark) throw bad(at, `headers.${place.name} must be pinned to the marker ${JSON.stringify(mark)}`);
  } else if (inBody(place)) {
    const body = pinned.body;
    const want = place.in === 'json' ? 'jcs_sha256' : 'sha256';
    if (body === null || !(want in body)) throw bad(at, `a ${place.in} location needs a ${want} body binding`);
  }
  return value;
}

function exactFields(obj: Obj, fields: readonly string[], at: string): void {
  for (const field of fields) if (!Object.hasOwn(obj, field)) throw bad(`${at}.${field}`, 'missing');
  for (const key of Object.keys(obj)) if (!fields.includes(key)) throw bad(`${at}.${key}`, 'unknown field');
}

function bad(at: string, problem: string): Denial {
  return new Denial('malformed_certificate', `${at}: ${problem}`);
}
