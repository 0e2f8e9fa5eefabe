/**
 * The run-time values `seb op capture` knows (SPEC §2.2: only these, never by guessing; the list
 * is in docs/run-time-values.md). Pure.
 */
import type { VolatileValue } from '../certificate/types.js';
import type { KubeFacts } from '../targets/kube/facts.js';
import type { AwsOperation } from '../targets/aws/types.js';
import tokens from '../targets/aws/data/idempotency-tokens.json' with { type: 'json' };
import { findFormField } from './body-places.js';
import { parseLocation } from './locations.js';
import { isJsonMediaType } from './body.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { isIdempotencyToken } from './run-time-values.js';

/** kubectl rollout restart writes the time into the pod template (kubectl's `objectrestarter`). */
export const RESTARTED_AT = '/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt';
/** The field manager kubectl rollout sends (kubectl's `rollout` commands default it so). */
const ROLLOUT_MANAGER = 'kubectl-rollout';
/** The workloads `kubectl rollout restart` patches. */
const RESTARTABLE: ReadonlySet<string> = new Set(['deployments', 'daemonsets', 'statefulsets']);

/** Per signing name and operation, where the SDK puts the token it generates (scripts/gen-idempotency-tokens.py). */
const TOKENS = tokens.services as Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

/**
 * Only kubectl rollout restart's own patch, which it sends as field manager `kubectl-rollout`: a
 * `kubectl patch` that sets restartedAt chose its value, and that value stays pinned.
 */
export function kubeVolatile(facts: KubeFacts, payload: Buffer): VolatileValue[] {
  if (facts.verb !== 'patch' || facts.group !== 'apps' || !RESTARTABLE.has(facts.resource) || facts.subresource !== null) return [];
  const manager = facts.params['fieldManager'];
  if (manager?.length !== 1 || manager[0] !== ROLLOUT_MANAGER) return [];
  if (!isJsonMediaType(facts.content_type ?? undefined)) return [];
  return typeof jsonAt(payload, RESTARTED_AT) === 'string' ? [{ at: RESTARTED_AT, kind: 'timestamp' }] : [];
}

/**
 * The modelled idempotency tokens this request carries in the SDK's generated form. A token the
 * caller chose (`--client-token run-1`) is not of that form and stays pinned like any other value.
 */
export function awsVolatile(request: AwsOperation, payload: Buffer, contentType: string | undefined): VolatileValue[] {
  const out: VolatileValue[] = [];
  for (const at of TOKENS[request.service]?.[request.operation] ?? []) {
    const place = parseLocation(at);
    if (place === null) continue;
    const value =
      place.in === 'form' ? findFormField(payload, place.name)?.value
      : place.in === 'query' ? request.params[place.name]
      : place.in === 'header' ? request.headers[place.name]
      : place.in === 'json' && isJsonMediaType(contentType) ? jsonAt(payload, at)
      : undefined;
    if (typeof value === 'string' && isIdempotencyToken(value)) out.push({ at, kind: 'idempotency_token' });
  }
  return out;
}

/** The value at a JSON pointer of a body, or undefined (also when the body is not JSON). */
function jsonAt(payload: Buffer, at: string): unknown {
  const place = parseLocation(at);
  if (place?.in !== 'json') return undefined;
  let node: unknown;
  try {
    node = parseStrictJson(payload);
  } catch {
    return undefined;
  }
  for (const token of place.pointer) {
    if (typeof node !== 'object' || node === null || !Object.prototype.hasOwnProperty.call(node, token)) return undefined;
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}
