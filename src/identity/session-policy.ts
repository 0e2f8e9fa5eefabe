/**
 * The inline session policy of a minted AWS identity (SPEC §5): it allows exactly the IAM actions
 * the certified operation needs on exactly the resources the pinned request names, and nothing
 * else. STS intersects it with the executor role's own permissions, so the role stays the ceiling.
 * Pure: the same permissions always give the same text, which keeps the credential cache (keyed by
 * its digest) effective.
 */
import { Denial } from '../reasons.js';
import { sha256Base64url } from '../lib/digest.js';

/** STS's limit on the plaintext of inline plus managed session policies (reference/aws.md §5). */
export const MAX_SESSION_POLICY_CHARS = 2048;

/** Length of the policy digest in base64url characters: 132 bits, short enough for a session name. */
const DIGEST_CHARS = 22;

/**
 * `service:Operation`, nothing else: no `*` or `?` wildcard, no `NotAction`-style tricks. The
 * action names come from the broker's own table, so a wildcard here is a bug we refuse to mint.
 */
const ACTION = /^[a-z0-9-]+:[A-Za-z0-9]+$/;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One value alone is written bare, several as a sorted array: the shortest text IAM accepts. */
function oneOrMany(values: readonly string[]): string | string[] {
  return values.length === 1 ? (values[0] as string) : [...values];
}

/**
 * The session policy JSON allowing exactly `permissions`. Resources must already be
 * account-resolved, with names the agent chose written literally (arn.ts `iamLiteral`). Statements group the resources that need identical action sets, so an
 * operation touching several resources (CopyObject's source and destination) stays short.
 * Throws Denial('mint_failed') for a malformed action, an empty set, or a policy over STS's limit.
 */
export function sessionPolicy(permissions: readonly { action: string; resource: string }[]): string {
  if (permissions.length === 0) throw new Denial('mint_failed', 'no permissions to grant');
  const actionsByResource = new Map<string, Set<string>>();
  for (const { action, resource } of permissions) {
    if (!ACTION.test(action)) throw new Denial('mint_failed', `not a single IAM action: ${JSON.stringify(action)}`);
    if (resource === '') throw new Denial('mint_failed', `empty resource for ${action}`);
    let actions = actionsByResource.get(resource);
    if (!actions) actionsByResource.set(resource, (actions = new Set()));
    actions.add(action);
  }
  const resourcesByActions = new Map<string, { actions: string[]; resources: string[] }>();
  for (const [resource, actionSet] of actionsByResource) {
    const actions = [...actionSet].sort(compare);
    // Action names never hold a space, so the joined list is an unambiguous group key.
    const key = actions.join(' ');
    let group = resourcesByActions.get(key);
    if (!group) resourcesByActions.set(key, (group = { actions, resources: [] }));
    group.resources.push(resource);
  }
  const statements = [...resourcesByActions.keys()].sort(compare).map((key) => {
    const group = resourcesByActions.get(key)!;
    return { Effect: 'Allow', Action: oneOrMany(group.actions), Resource: oneOrMany(group.resources.sort(compare)) };
  });
  // Compact JSON: STS counts every character, whitespace included.
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: statements });
  if (policy.length > MAX_SESSION_POLICY_CHARS) {
    throw new Denial('mint_failed', `session policy too large: ${policy.length} characters`);
  }
  return policy;
}

/**
 * A short digest of a session policy (base64url SHA-256, 132 bits): used in session names, where
 * STS allows 64 characters of `[\w+=,.@-]` (base64url fits), and in credential cache keys.
 */
export function policyDigest(policy: string): string {
  return sha256Base64url(policy).slice(0, DIGEST_CHARS);
}
