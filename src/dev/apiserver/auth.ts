import type { IncomingHttpHeaders } from 'node:http';
import { StatusError, badRequest } from './status.js';

/**
 * Authentication, impersonation and a small RBAC table (reference/k8s.md §4, §8 item 1). The
 * broker forwards under its own token plus Impersonate-* headers, so the stand-in must honour
 * impersonation only for callers allowed to impersonate and then authorize as the impersonated user.
 */
export interface UserInfo {
  readonly name: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
  /** The authenticated caller when this user is impersonated (audit's `user`). */
  readonly impersonatedBy?: string;
}

export interface RbacRule {
  readonly verbs: readonly string[];
  /** `pods`, `pods/exec`, `deployments/scale` or `*`. */
  readonly resources: readonly string[];
}

export interface AuthConfig {
  readonly tokens: Readonly<Record<string, { user: string; groups: string[] }>>;
  readonly impersonators: readonly string[];
  /** Rules keyed by user name or group name. */
  readonly rbac: Readonly<Record<string, readonly RbacRule[]>>;
}

const AUTHENTICATED = 'system:authenticated';

export function authenticate(headers: IncomingHttpHeaders, cfg: AuthConfig): UserInfo {
  const auth = headers.authorization;
  const m = typeof auth === 'string' ? /^Bearer ([^\s]+)$/i.exec(auth) : null;
  const entry = m === null ? undefined : Object.hasOwn(cfg.tokens, m[1]!) ? cfg.tokens[m[1]!] : undefined;
  if (entry === undefined) throw new StatusError('Unauthorized', 'Unauthorized');
  const caller: UserInfo = { name: entry.user, groups: withAuthenticated(entry.groups), extra: {} };
  return impersonate(caller, headers, cfg);
}

function withAuthenticated(groups: readonly string[]): string[] {
  return groups.includes(AUTHENTICATED) ? [...groups] : [...groups, AUTHENTICATED];
}

/**
 * Impersonate-User, Impersonate-Group (repeatable, so Node joins them with ", "), Impersonate-Uid
 * and Impersonate-Extra-<key> (key lower-cased and percent-decoded). Group, Uid or Extra without a
 * User is a 400, as in apiserver `filters/impersonation.go`.
 */
function impersonate(caller: UserInfo, headers: IncomingHttpHeaders, cfg: AuthConfig): UserInfo {
  const user = headers['impersonate-user'];
  const groups = splitHeader(headers['impersonate-group']);
  const extra: Record<string, string[]> = {};
  for (const [h, v] of Object.entries(headers)) {
    if (!h.startsWith('impersonate-extra-')) continue;
    extra[decodeURIComponent(h.slice('impersonate-extra-'.length)).toLowerCase()] = splitHeader(v);
  }
  const any = user !== undefined || groups.length > 0 || headers['impersonate-uid'] !== undefined || Object.keys(extra).length > 0;
  if (!any) return caller;
  if (typeof user !== 'string' || user === '') throw badRequest('requested impersonation without a user: Impersonate-User is required');
  if (!cfg.impersonators.includes(caller.name)) {
    throw new StatusError('Forbidden', `users "${user}" is forbidden: User "${caller.name}" cannot impersonate resource "users" in API group "" at the cluster scope`, {
      name: user,
      kind: 'users',
    });
  }
  return { name: user, groups: withAuthenticated(groups), extra, impersonatedBy: caller.name };
}

function splitHeader(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * RBAC by user or group: a rule allows when it names the verb (or `*`) and the resource, with its
 * subresource, exactly (or `*`). Non-resource URLs (discovery, OpenAPI, /version) are open to every
 * authenticated user, as the `system:discovery` and `system:public-info-viewer` roles make them.
 */
export function authorize(user: UserInfo, verb: string, resource: string, cfg: AuthConfig): boolean {
  const subjects = [user.name, ...user.groups];
  return subjects.some((s) =>
    (Object.hasOwn(cfg.rbac, s) ? cfg.rbac[s]! : []).some(
      (r) => (r.verbs.includes('*') || r.verbs.includes(verb)) && (r.resources.includes('*') || r.resources.includes(resource)),
    ),
  );
}
