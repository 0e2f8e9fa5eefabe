/**
 * The json protocol (SPEC §2.1: "json protocol means exactly one `X-Amz-Target` and no `Action`").
 * The operation comes from X-Amz-Target alone; anything else that could name an operation (a query
 * string, a form body, a top-level `Action` the operation does not have) is refused.
 */
import { parseStrictJson } from '../../lib/strict-json.js';
import { unparseable } from '../../reasons.js';
import type { ServiceModel, SigningGroup } from './services.js';
import type { AwsHttpRequest } from './types.js';

/** Checks the request line and headers; returns the model and operation X-Amz-Target names. */
export function readJsonHead(group: SigningGroup, req: AwsHttpRequest): { model: ServiceModel; operation: string } {
  if (req.method !== 'POST' || req.path !== '/') throw unparseable('a json-protocol request must be POST /');
  // A query string could carry an `Action` that a query-compatible upstream (SQS, CloudWatch) reads.
  if (req.query !== '') throw unparseable('a json-protocol request carries no query string');
  // Hygiene has refused a second X-Amz-Target header already (SPEC §3).
  const target = req.headers['x-amz-target'];
  if (target === undefined) throw unparseable('a json-protocol request needs X-Amz-Target');
  if (req.headers['smithy-protocol'] !== undefined) throw unparseable('the smithy-rpc-v2-cbor protocol is not served');
  // The prefix may itself hold dots (CloudTrail's `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101`);
  // no operation name does, so the last dot is the only split that can name an operation.
  const dot = target.lastIndexOf('.');
  const operation = target.slice(dot + 1);
  const models = dot === -1 ? undefined : group.byTarget.get(target.slice(0, dot));
  if (models === undefined) throw unparseable(`X-Amz-Target is not for ${group.own.signingName}`);
  // Timestream's write and query models share a target prefix: the operation tells them apart,
  // and an operation both have (TagResource) only the host the client chose could tell.
  const named = models.filter((m) => m.operations.has(operation));
  if (named.length === 0) throw unparseable(`${operation} is not an operation of ${group.own.signingName}`);
  if (named.length > 1) {
    throw unparseable(`${operation} is an operation of ${named.map((m) => m.model).join(' and ')}: the request cannot tell which`);
  }
  const model = named[0]!;
  const type = req.headers['content-type'];
  const expected = `application/x-amz-json-${model.jsonVersion}`;
  if (type === undefined || type.toLowerCase() !== expected) {
    throw unparseable(`${model.signingName} json requests must be ${expected}`);
  }
  return { model, operation };
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
