/** `seb op capture`: the exact Kubernetes op a certificate would need to admit a request (SPEC §9). */
import type { K8sOp, VolatileValue } from '../../contract/types.js';
import { bodyBinding, jsonAt, capturedFields } from '../../contract/capture-body.js';
import { isJsonMediaType } from '../../contract/body.js';
import type { KubeFacts } from './facts.js';

/**
 * The Kubernetes run-time values capture knows (SPEC §2.2, docs/run-time-values.md): the time
 * `kubectl rollout restart` writes into the pod template.
 */
/** kubectl rollout restart writes the time into the pod template (kubectl's `objectrestarter`). */
export const RESTARTED_AT = '/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt';
/** The field manager kubectl rollout sends (kubectl's `rollout` commands default it so). */
const ROLLOUT_MANAGER = 'kubectl-rollout';
/** The workloads `kubectl rollout restart` patches. */
const RESTARTABLE: ReadonlySet<string> = new Set(['deployments', 'daemonsets', 'statefulsets']);

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

/** JSON bodies are pinned by their JCS digest (whitespace-proof), anything else by its bytes. */
export function kubeOpFor(facts: KubeFacts, payload: Buffer): K8sOp {
  const fields = capturedFields(kubeVolatile(facts, payload), []);
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

