/** `seb op capture`: the exact op a certificate would need to admit a request (SPEC §9). */
import type { AwsOp, BodyBinding, BoundValue, K8sOp, VolatileValue } from '../certificate/types.js';
import { canonicalJson } from '../lib/jcs.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { isJsonMediaType } from './body.js';
import type { KubeFacts } from '../targets/kube/facts.js';
import { sha256Hex } from '../lib/digest.js';
import { resolveArn } from '../targets/aws/arn.js';
import type { AwsOperation } from '../targets/aws/types.js';
import { awsVolatile, kubeVolatile } from './capture-known.js';
import { entriesOf, hasBodyPlaces, markedBody, type SeenValue } from './run-time-values.js';
import { parseLocation } from './locations.js';

/**
 * The AWS op for a request: its bytes pinned, except the run-time values capture knows (SPEC §2.2)
 * and the `bind` entries the capture broker adds for values it answered itself (S3 multipart).
 */
export function awsOpFor(request: AwsOperation, account: string, payload: Buffer, contentType?: string, bind: readonly BoundValue[] = []): AwsOp {
  const volatile = awsVolatile(request, payload, contentType);
  const fields = runTimeFields(volatile, bind);
  const params: Record<string, string> = { ...request.params };
  const headers: Record<string, string> = { ...request.headers };
  for (const e of entriesOf(fields)) {
    if (e.place.in === 'query') params[e.place.name] = e.mark;
    if (e.place.in === 'header') headers[e.place.name] = e.mark;
  }
  const json = volatile.some((v) => parseLocation(v.at)?.in === 'json');
  return {
    target: 'aws',
    service: request.service,
    region: request.region,
    operation: request.operation,
    resource: resolveArn(request.resource, account),
    params,
    headers,
    body: payload.length ? bodyBinding(fields, payload, json) : null,
    pre_state: null,
    max_uses: 1,
    ...fields,
  };
}

/** JSON bodies are pinned by their JCS digest (whitespace-proof), anything else by its bytes. */
export function kubeOpFor(facts: KubeFacts, payload: Buffer): K8sOp {
  const fields = runTimeFields(kubeVolatile(facts, payload), []);
  const body = payload.length === 0 ? null : bodyBinding(fields, payload, isJsonMediaType(facts.content_type ?? undefined));
  return {
    target: 'k8s',
    verb: facts.verb,
    group: facts.group,
    version: facts.version,
    resource: facts.resource,
    subresource: facts.subresource,
    path_suffix: facts.path_suffix,
    namespace: facts.namespace,
    name: facts.name,
    generate_name: facts.generate_name,
    params: Object.fromEntries(Object.entries(facts.params).map(([k, v]) => [k, [...v]])),
    content_type: facts.content_type,
    body,
    pre_state: null,
    max_uses: 1,
    ...fields,
  };
}

/** The SPEC §2.2 fields, present only when there is something to say (else the op is as in §2.1). */
function runTimeFields(volatile: readonly VolatileValue[], bind: readonly BoundValue[]): { volatile?: VolatileValue[]; bind?: BoundValue[] } {
  return { ...(volatile.length ? { volatile: [...volatile] } : {}), ...(bind.length ? { bind: [...bind] } : {}) };
}

/** The binding the broker will compute: over the marked body when the op names places in it. */
function bodyBinding(fields: ReturnType<typeof runTimeFields>, payload: Buffer, json: boolean): BodyBinding {
  const entries = entriesOf(fields);
  const unused: SeenValue[] = [];
  const marked = hasBodyPlaces(entries) ? markedBody(entries, payload, unused) : null;
  if (marked !== null) return json ? { jcs_sha256: marked } : { sha256: marked };
  return json ? { jcs_sha256: sha256Hex(canonicalJson(parseStrictJson(payload))) } : { sha256: sha256Hex(payload) };
}
