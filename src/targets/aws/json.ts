/**
 * The json protocol (SPEC §2.1: "json protocol means exactly one `X-Amz-Target` and no `Action`").
 * The operation comes from X-Amz-Target alone; anything else that could name an operation (a query
 * string, a form body, a top-level `Action` the operation does not have) is refused.
 */
import { parseStrictJson } from '../../lib/strict-json.js';
import { unparseable } from '../../reasons.js';
import type { ServiceModel } from './services.js';
import type { AwsHttpRequest } from './types.js';

/** Checks the request line and headers and returns the operation named by X-Amz-Target. */
export function readJsonHead(model: ServiceModel, req: AwsHttpRequest): string {
  if (req.method !== 'POST' || req.path !== '/') throw unparseable('a json-protocol request must be POST /');
  // A query string could carry an `Action` that a query-compatible upstream (SQS, CloudWatch) reads.
  if (req.query !== '') throw unparseable('a json-protocol request carries no query string');
  // Hygiene has refused a second X-Amz-Target header already (SPEC §3).
  const target = req.headers['x-amz-target'];
  if (target === undefined) throw unparseable('a json-protocol request needs X-Amz-Target');
  if (req.headers['smithy-protocol'] !== undefined) throw unparseable('the smithy-rpc-v2-cbor protocol is not served');
  const type = req.headers['content-type'];
  const expected = `application/x-amz-json-${model.jsonVersion}`;
  if (type === undefined || type.toLowerCase() !== expected) {
    throw unparseable(`${model.signingName} json requests must be ${expected}`);
  }
  const dot = target.indexOf('.');
  const prefix = target.slice(0, dot);
  const operation = target.slice(dot + 1);
  if (dot === -1 || prefix !== model.targetPrefix) throw unparseable(`X-Amz-Target is not for ${model.signingName}`);
  if (!model.operations.has(operation)) throw unparseable(`${operation} is not an operation of ${model.signingName}`);
  return operation;
}

/** Reads the body: a strict I-JSON object that does not contradict X-Amz-Target. */
export function readJsonBody(model: ServiceModel, operation: string, payload: Buffer): Readonly<Record<string, unknown>> {
  // botocore and the JS SDK send `{}` for an operation without input; an empty body is not JSON.
  const body = parseStrictJson(payload);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw unparseable('a json-protocol body must be a JSON object');
  }
  const record = body as Record<string, unknown>;
  if (Object.hasOwn(record, 'Action') && !model.actionMember.has(operation)) {
    throw unparseable('the body names an Action besides X-Amz-Target');
  }
  return record;
}
