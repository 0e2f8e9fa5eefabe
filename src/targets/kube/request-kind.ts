/**
 * What kind of Kubernetes request a RequestInfo reading is: long-running as the apiserver counts
 * it, and read as SPEC §7's allow-list says.
 */
import type { KubeRequestInfo } from './request-info.js';

// k8s.io/apiserver `BasicLongRunningRequestCheck` as the kube-apiserver configures it.
const LONG_RUNNING_VERBS: ReadonlySet<string> = new Set(['watch', 'proxy']);
const LONG_RUNNING_SUBRESOURCES: ReadonlySet<string> = new Set(['attach', 'exec', 'proxy', 'log', 'portforward']);

/** Long-running as the apiserver counts it: no response timeout, closed by the broker (SPEC §4). */
export function isLongRunning(info: KubeRequestInfo): boolean {
  return LONG_RUNNING_VERBS.has(info.verb) || (info.isResource && LONG_RUNNING_SUBRESOURCES.has(info.subresource));
}

const READ_VERBS: ReadonlySet<string> = new Set(['get', 'list', 'watch']);
// SPEC §7: these give a shell, a tunnel or a credential even though RBAC calls them `get`
// (kubectl's WebSocket exec is a GET, `get pods/exec`).
const NOT_READ_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward', 'proxy']);

/**
 * SPEC §7. Resource requests: get, list and watch, minus `secrets` (in any group: a read that
 * may return secret data is never free), the exec-like subresources and `serviceaccounts/token`.
 * Non-resource requests: only GET and HEAD of discovery (`/api`, `/api/{v}`, `/apis`,
 * `/apis/{g}`, `/apis/{g}/{v}`), OpenAPI (`/openapi/...`) and `/version`. Other non-resource
 * paths (`/healthz`, `/metrics`, `/logs`, ...) are not on the allow-list and so are mutations.
 */
export function isReadRequest(info: KubeRequestInfo): boolean {
  if (info.isResource) {
    return (
      READ_VERBS.has(info.verb) &&
      info.resource !== 'secrets' &&
      !NOT_READ_SUBRESOURCES.has(info.subresource) &&
      !(info.resource === 'serviceaccounts' && info.subresource === 'token')
    );
  }
  if (info.verb !== 'get' && info.verb !== 'head') return false;
  const segments = info.path === '/' ? [] : info.path.slice(1).split('/');
  switch (segments[0]) {
    // RequestInfo makes anything deeper a resource request, so every non-resource path under
    // these prefixes is discovery.
    case 'api':
    case 'apis':
      return true;
    case 'version':
      return segments.length === 1;
    case 'openapi':
      return segments.length >= 2;
    default:
      return false;
  }
}
