/** Contract matching for Kubernetes ops (SPEC §2.1): every pinned field equal, each parameter's values in order. */
import type { K8sOp, Op } from '../../contract/types.js';
import { matchOp, type Matched } from '../../contract/matcher.js';
import { entriesOf, maskFields, type SeenValue } from '../../contract/run-time-values.js';
import type { KubeFacts } from './facts.js';

/**
 * Names in any order, but each name's values in the order sent: the apiserver reads repeated values
 * as a list, and for exec's `command` that list is argv (`sh -c 'echo $0' 'rm -rf /'` and
 * `sh -c 'rm -rf /' 'echo $0'` hold the same multiset; found by test/fuzz/kube-match).
 */
function sameParams(a: Readonly<Record<string, readonly string[]>>, b: Readonly<Record<string, readonly string[]>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(b, key)) return false;
    const x = a[key]!;
    const y = b[key]!;
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

/** Run-time values in parameters are compared as their markers (SPEC §2.2), and collected in `seen`. */
function sameRequest(op: K8sOp, f: KubeFacts, seen: SeenValue[]): boolean {
  const params = maskFields(f.params, entriesOf(op), 'query', seen);
  return (
    params !== null &&
    op.verb === f.verb &&
    op.group === f.group &&
    op.version === f.version &&
    op.resource === f.resource &&
    op.subresource === f.subresource &&
    op.path_suffix === f.path_suffix &&
    op.namespace === f.namespace &&
    op.name === f.name &&
    op.generate_name === f.generate_name &&
    op.content_type === f.content_type &&
    sameParams(op.params, params)
  );
}

export function describeKube(f: KubeFacts): string {
  const resource = f.subresource ? `${f.resource}/${f.subresource}` : f.resource;
  const group = f.group ? `${f.group}/${f.version}` : f.version;
  const where = f.namespace ? ` in namespace ${f.namespace}` : '';
  const params = Object.keys(f.params);
  return `${f.verb} ${resource}.${group}${f.name ? ` ${f.name}` : ''}${where}${params.length ? ` params [${params.join(', ')}]` : ''}`;
}

/**
 * Throws contract_mismatch when no op pins the request, body_mismatch when none binds its body.
 * `json` is the body parsed once (lib/parsed-body.ts), shared with the stages that also read it.
 */
export function matchKubeOp(ops: readonly Op[], facts: KubeFacts, payload: Buffer, json?: () => unknown): Matched<K8sOp> {
  return matchOp(
    ops,
    {
      pins: (op: Op, seen: SeenValue[]): op is K8sOp => op.target === 'k8s' && sameRequest(op, facts, seen),
      describe: () => describeKube(facts),
      what: `${facts.verb} ${facts.resource}`,
    },
    { payload, contentType: facts.content_type ?? undefined, json },
  );
}
