/**
 * What every phase of a Kubernetes request shares (adapter.ts, named-request.ts): the target's
 * settings compiled once at start, the view a record or a denial reads, and impersonation.
 */
import type { K8sExecutor } from '../../config/types.js';
import type { RenderedAnswer, RequestHead, RequestKind, RequestView } from '../target.js';
import type { KubeRequestInfo } from './request-info.js';
import type { KubeFacts } from './facts.js';
import { kubeStatus } from './status.js';
import type { KubeUpstream } from './upstream.js';

/** Settings of the Kubernetes target, compiled once at start. */
export interface Compiled {
  readonly upstream: KubeUpstream;
  readonly reader: K8sExecutor | null;
  readonly timeoutMs: number;
  readonly url: URL;
}

/** What every phase of a Kubernetes request tells its records and denials: RequestInfo, then facts. */
export abstract class KubeView implements RequestView<K8sExecutor> {
  constructor(
    readonly c: Compiled,
    readonly head: RequestHead,
    /** An upgrade's handshake headers (tunnels.ts reads its protocols), or null. */
    readonly upgrade: Readonly<Record<string, string>> | null,
    readonly info: KubeRequestInfo,
    readonly kind: RequestKind,
    readonly facts: KubeFacts | null,
  ) {}

  project(): Record<string, unknown> {
    const { info, facts } = this;
    return {
      verb: facts?.verb ?? info.verb,
      group: info.group,
      version: info.version,
      resource: info.resource,
      subresource: info.subresource || null,
      namespace: info.namespace,
      name: facts?.name ?? (info.name || null),
    };
  }

  identityRecord(): Record<string, unknown> | null {
    return null;
  }

  render(status: number, message: string, denial: boolean): RenderedAnswer {
    const info = this.info;
    const details = denial && info.resource ? { ...(info.name ? { name: info.name } : {}), group: info.group, kind: info.resource } : undefined;
    const { status: code, body } = kubeStatus(status, message, details);
    return { status: code, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  }
}

/** Impersonation headers of `executor`, with the broker's own credentials (SPEC §5). */
export function identityHeaders(c: Compiled, executor: K8sExecutor, jti: string | null, base: Record<string, string | string[]>): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { ...base, 'impersonate-user': executor.user };
  if (executor.groups.length) headers['impersonate-group'] = [...executor.groups];
  // SPEC §5: the apiserver's audit log names the certificate.
  if (jti !== null) headers['impersonate-extra-seb.io%2fcertificate'] = jti;
  const authorization = c.upstream.authorization();
  if (authorization) headers['authorization'] = authorization;
  return headers;
}
