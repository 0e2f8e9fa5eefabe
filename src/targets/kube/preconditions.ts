/**
 * Closing the gap between the broker's drift check and the apiserver's write (SPEC §2.1 pre_state,
 * reference/k8s.md §5): after the check, the forwarded body carries the checked state as a
 * precondition the apiserver enforces itself, so a change in between is refused upstream (409).
 * Pure: takes the certified body (already parsed strictly) and the live object's identity.
 */
import { unparseable } from '../../reasons.js';

export interface LiveIdentity {
  readonly uid: string;
  readonly resourceVersion: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Media types whose body the broker rewrites; everything else cannot carry a precondition. */
const MERGE_PATCHES = new Set(['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml']);

function mediaType(contentType: string | null): string | null {
  return contentType === null ? null : contentType.split(';', 1)[0]!.trim().toLowerCase();
}

function withResourceVersion(object: Json, resourceVersion: string): Json {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) throw unparseable('the body is not a JSON object');
  const metadata = object['metadata'];
  if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw unparseable('metadata is not an object');
  }
  return { ...object, metadata: { ...(metadata ?? {}), resourceVersion } };
}

/**
 * The body to forward for `verb` once the live object was checked. `body` is the certified body
 * parsed as JSON (`undefined` when the request has none). Returns the new body as JSON text.
 * A verb with no way to carry a precondition (create, get, ...) returns null: nothing to add.
 */
export function withPreconditions(verb: string, contentType: string | null, body: Json | undefined, live: LiveIdentity): string | null {
  switch (verb) {
    case 'update':
      if (body === undefined) throw unparseable('an update without a body');
      // A PUT whose metadata.resourceVersion is stale is refused with 409 Conflict by the apiserver.
      return JSON.stringify(withResourceVersion(body, live.resourceVersion));
    case 'patch': {
      if (body === undefined) throw unparseable('a patch without a body');
      const type = mediaType(contentType);
      if (type === 'application/json-patch+json') {
        if (!Array.isArray(body)) throw unparseable('a JSON Patch body is not an array');
        // A failing `test` op aborts the whole patch (RFC 6902 §5): the apiserver answers 422/409.
        return JSON.stringify([{ op: 'test', path: '/metadata/resourceVersion', value: live.resourceVersion }, ...body]);
      }
      if (type !== null && MERGE_PATCHES.has(type)) return JSON.stringify(withResourceVersion(body, live.resourceVersion));
      throw unparseable(`cannot enforce pre_state on a ${type ?? 'bodiless'} patch`);
    }
    case 'delete': {
      const options = body === undefined ? { kind: 'DeleteOptions', apiVersion: 'v1' } : body;
      if (options === null || typeof options !== 'object' || Array.isArray(options)) throw unparseable('DeleteOptions is not an object');
      // uid also catches delete-and-recreate under the same name (reference/k8s.md §5).
      return JSON.stringify({ ...options, preconditions: { uid: live.uid, resourceVersion: live.resourceVersion } });
    }
    default:
      return null;
  }
}
