/**
 * Live-state drift (SPEC §2.1 pre_state): the object is read under the read executor just before
 * forwarding, compared with the certified pre-state, and the checked state is then carried
 * upstream as a precondition (preconditions.ts) so that a change in between is refused there too.
 */
import { Denial } from '../../reasons.js';
import { sha256Hex } from '../../lib/digest.js';
import { canonicalJson } from '../../lib/jcs.js';
import { parseStrictJson } from '../../lib/strict-json.js';
import type { K8sPreState } from '../../certificate/types.js';
import type { KubeFacts } from './facts.js';
import { withPreconditions } from './preconditions.js';

/** The path of the object an op acts on (its parent for a subresource). */
export function objectPath(f: KubeFacts): string {
  if (f.name === null) throw new Denial('drift', 'pre_state needs a named object');
  const prefix = f.group ? `/apis/${f.group}/${f.version}` : `/api/${f.version}`;
  const namespace = f.namespace && f.resource !== 'namespaces' ? `/namespaces/${encodeURIComponent(f.namespace)}` : '';
  return `${prefix}${namespace}/${f.resource}/${encodeURIComponent(f.name)}`;
}

/** The object holding only `fields` (dotted paths), whose JCS digest a pre_state may pin. */
export function pickFields(object: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const path = field.split('.');
    let from: unknown = object;
    for (const key of path) from = from !== null && typeof from === 'object' && !Array.isArray(from) ? (from as Record<string, unknown>)[key] : undefined;
    if (from === undefined) continue;
    let to = out;
    for (const key of path.slice(0, -1)) to = (to[key] ??= {}) as Record<string, unknown>;
    const last = path.at(-1);
    if (last !== undefined) to[last] = from;
  }
  return out;
}

/**
 * Checks the live object against `preState`; throws Denial('drift') when it differs. Returns the
 * body to forward with the checked state as a precondition, or null to forward `body` unchanged.
 */
export async function probeDrift(
  get: (path: string) => Promise<{ status: number; body: Buffer }>,
  facts: KubeFacts,
  preState: K8sPreState,
  body: Buffer,
  json: () => unknown = () => parseStrictJson(body),
): Promise<Buffer | null> {
  const live = await get(objectPath(facts));
  if ('absent' in preState) {
    if (live.status === 404) return null; // A create racing another is refused upstream: 409 AlreadyExists.
    if (live.status === 200) throw new Denial('drift', 'the object exists; the certificate expects it absent');
    throw new Denial('drift', `the probe answered ${live.status}`);
  }
  if (live.status === 404) throw new Denial('drift', 'the object does not exist');
  if (live.status !== 200) throw new Denial('drift', `the probe answered ${live.status}`);
  const object = parseStrictJson(live.body) as Record<string, unknown>;
  const metadata = (object['metadata'] ?? {}) as { uid?: unknown; resourceVersion?: unknown };
  const identity = { uid: String(metadata.uid ?? ''), resourceVersion: String(metadata.resourceVersion ?? '') };
  if ('resource_version' in preState) {
    if (identity.resourceVersion !== preState.resource_version) {
      throw new Denial('drift', `resourceVersion is ${identity.resourceVersion}, the certificate expects ${preState.resource_version}`);
    }
  } else if (sha256Hex(canonicalJson(pickFields(object, preState.fields))) !== preState.jcs_sha256) {
    throw new Denial('drift', `the fields ${preState.fields.join(', ')} changed`);
  }
  const parsed = body.length ? (json() as never) : undefined;
  const guarded = withPreconditions(facts.verb, facts.content_type, parsed, identity);
  return guarded === null ? null : Buffer.from(guarded);
}
