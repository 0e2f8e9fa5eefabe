/**
 * The exact shape of one certified operation (SPEC §2.1). Every field listed for the target is
 * required and no other is allowed: a field the broker does not know might be one the issuer meant
 * to restrict the request with, so it is refused rather than ignored. Pure: no I/O, no clock.
 */
import { Denial } from '../reasons.js';
import type { AwsOp, AwsPreState, BodyBinding, K8sOp, K8sPreState, Op } from './types.js';
import { runTimeFields } from './run-time-schema.js';

const HEX64 = /^[0-9a-f]{64}$/;
/** RFC 9110 §5.6.2 token, lower-case only: SPEC §2.1 pins header names lower-cased. */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

const AWS_FIELDS = ['target', 'service', 'region', 'operation', 'resource', 'params', 'headers', 'body', 'pre_state', 'max_uses'] as const;
const K8S_FIELDS = [
  'target', 'verb', 'group', 'version', 'resource', 'subresource', 'path_suffix', 'namespace', 'name',
  'generate_name', 'params', 'content_type', 'body', 'pre_state', 'max_uses',
] as const;
/** SPEC §2.2: optional; an op without them pins every byte as SPEC §2.1 says. */
const RUN_TIME_FIELDS = ['volatile', 'bind'] as const;
const MAX_USES = 100;
const K8S_PROTOBUF = 'application/vnd.kubernetes.protobuf';

/** Fields `seb cert issue` may leave out (SPEC §9), with the empty value they stand for. */
const AWS_DEFAULTS: Readonly<Record<string, unknown>> = { params: {}, headers: {}, body: null, pre_state: null, max_uses: 1 };
const K8S_DEFAULTS: Readonly<Record<string, unknown>> = {
  params: {}, body: null, pre_state: null, subresource: null, path_suffix: null, generate_name: null,
  content_type: null, name: null, max_uses: 1,
};

type Obj = Record<string, unknown>;

/**
 * Validates one op; `at` names it in the detail (`contract.ops[0]`), `earlier` are the ops before it
 * in the same certificate (a binding may name only those; none given, none may be named). Returns a
 * frozen copy.
 */
export function parseOp(value: unknown, at: string, earlier: readonly Op[] = []): Op {
  const obj = object(value, at);
  if (obj['target'] === 'aws') return parseAwsOp(obj, at, earlier);
  if (obj['target'] === 'k8s') return parseK8sOp(obj, at, earlier);
  throw bad(`${at}.target`, Object.hasOwn(obj, 'target') ? 'must be "aws" or "k8s"' : 'missing');
}

/** Fills the fields an issuer may omit on the command line; anything else is left for parseOp. */
export function completeOp(partial: unknown): unknown {
  if (!isObject(partial)) return partial;
  const defaults = partial['target'] === 'aws' ? AWS_DEFAULTS : partial['target'] === 'k8s' ? K8S_DEFAULTS : null;
  if (defaults === null) return partial;
  const out: Obj = { ...partial };
  for (const [field, empty] of Object.entries(defaults)) {
    // A fresh copy for each op: the defaults table is shared.
    if (!Object.hasOwn(out, field)) out[field] = isObject(empty) ? {} : empty;
  }
  return out;
}

function parseAwsOp(obj: Obj, at: string, earlier: readonly Op[]): AwsOp {
  exactFields(obj, AWS_FIELDS, at, RUN_TIME_FIELDS);
  const params = stringRecord(obj['params'], `${at}.params`);
  const headers = headerRecord(obj['headers'], `${at}.headers`);
  const body = bodyBinding(obj['body'], `${at}.body`);
  return Object.freeze({
    target: 'aws',
    service: nonEmpty(obj['service'], `${at}.service`),
    region: obj['region'] === null ? null : nonEmpty(obj['region'], `${at}.region`, 'a non-empty string or null'),
    operation: nonEmpty(obj['operation'], `${at}.operation`),
    resource: nonEmpty(obj['resource'], `${at}.resource`),
    params,
    headers,
    body,
    pre_state: awsPreState(obj['pre_state'], `${at}.pre_state`),
    max_uses: maxUses(obj['max_uses'], `${at}.max_uses`),
    ...runTimeFields(obj, { target: 'aws', params, headers, body }, earlier, at),
  });
}

function parseK8sOp(obj: Obj, at: string, earlier: readonly Op[]): K8sOp {
  exactFields(obj, K8S_FIELDS, at, RUN_TIME_FIELDS);
  const contentType = nullableNonEmpty(obj['content_type'], `${at}.content_type`);
  const body = bodyBinding(obj['body'], `${at}.body`);
  checkMediaType(contentType, body, at);
  const params = multiRecord(obj['params'], `${at}.params`);
  return Object.freeze({
    target: 'k8s',
    verb: nonEmpty(obj['verb'], `${at}.verb`),
    group: string(obj['group'], `${at}.group`),
    version: nonEmpty(obj['version'], `${at}.version`),
    resource: nonEmpty(obj['resource'], `${at}.resource`),
    subresource: nullableNonEmpty(obj['subresource'], `${at}.subresource`),
    // A proxied path may legitimately be empty or `/`, so only the type is fixed here.
    path_suffix: obj['path_suffix'] === null ? null : string(obj['path_suffix'], `${at}.path_suffix`, 'a string or null'),
    namespace: string(obj['namespace'], `${at}.namespace`),
    name: nullableNonEmpty(obj['name'], `${at}.name`),
    generate_name: nullableNonEmpty(obj['generate_name'], `${at}.generate_name`),
    params,
    content_type: contentType,
    body,
    pre_state: k8sPreState(obj['pre_state'], `${at}.pre_state`),
    max_uses: maxUses(obj['max_uses'], `${at}.max_uses`),
    ...runTimeFields(obj, { target: 'k8s', params, headers: null, body }, earlier, at),
  });
}

/**
 * SPEC §2.1: only JSON media types may use `jcs_sha256`; of the protobuf types only kubectl's
 * `application/vnd.kubernetes.protobuf` is allowed, bound by `sha256` (the broker reads only its
 * envelope and names, so the digest of the exact bytes must pin the rest); a media type without a
 * body (or `jcs_sha256` without a type) pins nothing.
 */
function checkMediaType(contentType: string | null, body: BodyBinding, at: string): void {
  if (contentType === null) {
    if (body !== null && 'jcs_sha256' in body) throw bad(`${at}.content_type`, 'jcs_sha256 needs a JSON content_type');
    return;
  }
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (body === null) throw bad(`${at}.content_type`, 'must be null when body is null');
  if (essence.includes('protobuf')) {
    if (contentType !== K8S_PROTOBUF) throw bad(`${at}.content_type`, `the only protobuf type is ${K8S_PROTOBUF}`);
    if (!('sha256' in body)) throw bad(`${at}.body`, 'a protobuf body is bound by sha256');
  }
  const json = essence === 'application/json' || essence.endsWith('+json');
  if ('jcs_sha256' in body && !json) throw bad(`${at}.body`, 'jcs_sha256 is only for JSON media types');
}

function bodyBinding(value: unknown, at: string): BodyBinding {
  if (value === null) return null;
  const obj = object(value, at);
  const keys = Object.keys(obj);
  if (keys.length !== 1) throw bad(at, 'must be null or one of {sha256}, {jcs_sha256}, {any: true}');
  const key = keys[0]!;
  if (key === 'sha256') return Object.freeze({ sha256: hex(obj[key], `${at}.sha256`) });
  if (key === 'jcs_sha256') return Object.freeze({ jcs_sha256: hex(obj[key], `${at}.jcs_sha256`) });
  if (key === 'any') {
    if (obj[key] !== true) throw bad(`${at}.any`, 'must be true');
    return Object.freeze({ any: true as const });
  }
  throw bad(`${at}.${key}`, 'unknown field');
}

function awsPreState(value: unknown, at: string): AwsPreState | null {
  if (value === null) return null;
  const obj = object(value, at);
  if (Object.hasOwn(obj, 'absent')) return absent(obj, at);
  if (Object.hasOwn(obj, 'etag')) {
    exactFields(obj, ['etag'], at);
    return Object.freeze({ etag: nonEmpty(obj['etag'], `${at}.etag`) });
  }
  // Probe results of other resource families (SPEC §2.1): their shape belongs to the prober, and
  // an op whose pre_state the broker cannot probe is denied at drift time, never passed.
  if (Object.keys(obj).length === 0) throw bad(at, 'must be null or a non-empty object');
  return Object.freeze({ ...obj });
}

function k8sPreState(value: unknown, at: string): K8sPreState | null {
  if (value === null) return null;
  const obj = object(value, at);
  if (Object.hasOwn(obj, 'absent')) return absent(obj, at);
  if (Object.hasOwn(obj, 'resource_version')) {
    exactFields(obj, ['resource_version'], at);
    return Object.freeze({ resource_version: nonEmpty(obj['resource_version'], `${at}.resource_version`) });
  }
  if (Object.hasOwn(obj, 'jcs_sha256')) {
    exactFields(obj, ['jcs_sha256', 'fields'], at);
    const fields = obj['fields'];
    if (!Array.isArray(fields) || fields.length === 0) throw bad(`${at}.fields`, 'must be a non-empty array of field paths');
    const seen = new Set<string>();
    fields.forEach((field: unknown, i) => {
      const path = nonEmpty(field, `${at}.fields[${i}]`);
      if (seen.has(path)) throw bad(`${at}.fields[${i}]`, 'duplicate field path');
      seen.add(path);
    });
    return Object.freeze({ jcs_sha256: hex(obj['jcs_sha256'], `${at}.jcs_sha256`), fields: Object.freeze([...seen]) as string[] });
  }
  throw bad(at, 'must be null, {resource_version}, {jcs_sha256, fields} or {absent: true}');
}

function absent(obj: Obj, at: string): { absent: true } {
  exactFields(obj, ['absent'], at);
  if (obj['absent'] !== true) throw bad(`${at}.absent`, 'must be true');
  return Object.freeze({ absent: true as const });
}

/** Null-prototype copies, so a pinned `__proto__` or `constructor` is data, never a lookup hit. */
function stringRecord(value: unknown, at: string): Readonly<Record<string, string>> {
  const obj = object(value, at);
  const out: Record<string, string> = Object.create(null);
  for (const [key, item] of Object.entries(obj)) out[key] = string(item, `${at}.${key}`);
  return Object.freeze(out);
}

function headerRecord(value: unknown, at: string): Readonly<Record<string, string>> {
  const out = stringRecord(value, at);
  for (const name of Object.keys(out)) {
    if (!HEADER_NAME.test(name)) throw bad(`${at}.${name}`, 'header names are lower-case HTTP tokens');
  }
  return out;
}

function multiRecord(value: unknown, at: string): Readonly<Record<string, readonly string[]>> {
  const obj = object(value, at);
  const out: Record<string, readonly string[]> = Object.create(null);
  for (const [key, list] of Object.entries(obj)) {
    if (!Array.isArray(list) || list.length === 0) throw bad(`${at}.${key}`, 'must be a non-empty array of strings');
    out[key] = Object.freeze(list.map((item: unknown, i) => string(item, `${at}.${key}[${i}]`)));
  }
  return Object.freeze(out);
}

function maxUses(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_USES) {
    throw bad(at, `must be an integer from 1 to ${MAX_USES}`);
  }
  return value;
}

function exactFields(obj: Obj, fields: readonly string[], at: string, optional: readonly string[] = []): void {
  for (const field of fields) if (!Object.hasOwn(obj, field)) throw bad(`${at}.${field}`, 'missing');
  for (const key of Object.keys(obj)) if (!fields.includes(key) && !optional.includes(key)) throw bad(`${at}.${key}`, 'unknown field');
}

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, at: string): Obj {
  if (!isObject(value)) throw bad(at, 'must be an object');
  return value;
}

function string(value: unknown, at: string, expected = 'a string'): string {
  if (typeof value !== 'string') throw bad(at, `must be ${expected}`);
  return value;
}

function nonEmpty(value: unknown, at: string, expected = 'a non-empty string'): string {
  if (typeof value !== 'string' || value === '') throw bad(at, `must be ${expected}`);
  return value;
}

function nullableNonEmpty(value: unknown, at: string): string | null {
  return value === null ? null : nonEmpty(value, at, 'a non-empty string or null');
}

function hex(value: unknown, at: string): string {
  if (typeof value !== 'string' || !HEX64.test(value)) throw bad(at, 'must be 64 lower-case hex digits');
  return value;
}

function bad(at: string, problem: string): Denial {
  return new Denial('malformed_certificate', `${at}: ${problem}`);
}
