/** `seb op capture`: the exact op a certificate would need to admit a request (SPEC §9). */
import type { AwsOp, K8sOp } from '../certificate/types.js';
import { canonicalJson } from '../lib/jcs.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { isJsonMediaType } from './body.js';
import type { KubeFacts } from '../targets/kube/facts.js';
import { sha256Hex } from '../lib/digest.js';
import { resolveArn } from '../targets/aws/arn.js';
import type { AwsOperation } from '../targets/aws/types.js';

export function awsOpFor(request: AwsOperation, account: string, payload: Buffer): AwsOp {
  return {
    target: 'aws',
    service: request.service,
    region: request.region,
    operation: request.operation,
    resource: resolveArn(request.resource, account),
    params: { ...request.params },
    headers: { ...request.headers },
    body: payload.length ? { sha256: sha256Hex(payload) } : null,
    pre_state: null,
    max_uses: 1,
  };
}

/** JSON bodies are pinned by their JCS digest (whitespace-proof), anything else by its bytes. */
export function kubeOpFor(facts: KubeFacts, payload: Buffer): K8sOp {
  const body = payload.length === 0
    ? null
    : isJsonMediaType(facts.content_type ?? undefined)
      ? { jcs_sha256: sha256Hex(canonicalJson(parseStrictJson(payload))) }
      : { sha256: sha256Hex(payload) };
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
  };
}
