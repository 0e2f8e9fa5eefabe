/**
 * The last phase of a Kubernetes request (targets/target.ts AdmittedRequest): its identity is named,
 * so it goes upstream with the broker's credentials and `Impersonate-*` headers (SPEC §5), over the
 * dispatcher or, for an upgrade, its own connection.
 */
import type { Certificate } from '../../certificate/types.js';
import type { K8sExecutor } from '../../config/types.js';
import type { AdmittedRequest, TunnelRequest, UpstreamRequest } from '../target.js';
import { watchErrorEvent } from './status.js';
import { spendsOnUpgrade } from './tunnels.js';
import { KubeView, identityHeaders } from './request-view.js';

/** Client headers that carry meaning the apiserver needs; everything else is dropped (SPEC §3). */
const PASSED_HEADERS = ['accept', 'accept-encoding', 'content-type', 'user-agent', 'kubectl-command', 'kubectl-session', 'audit-id'] as const;
const EMPTY = Buffer.alloc(0);


/** A request with its identity named: what goes upstream. */
export class KubeNamed extends KubeView implements AdmittedRequest<K8sExecutor> {
  constructor(
    view: KubeView,
    readonly executor: K8sExecutor,
    readonly body: Buffer,
  ) {
    super(view.c, view.head, view.upgrade, view.info, view.kind, view.facts);
  }

  override identityRecord(): Record<string, unknown> {
    const e = this.executor;
    return { type: 'k8s', user: e.user, groups: [...e.groups] };
  }

  #upstreamHeaders(cert: Certificate | null, body: Buffer): Record<string, string | string[]> {
    const base: Record<string, string> = {};
    const client = this.head.headers;
    for (const name of PASSED_HEADERS) {
      const value = client[name];
      if (value !== undefined) base[name] = value;
    }
    if (body.length) base['content-length'] = String(body.length);
    return identityHeaders(this.c, this.executor, cert?.jti ?? null, base);
  }

  async prepare(cert: Certificate | null): Promise<UpstreamRequest> {
    const { upstream, timeoutMs } = this.c;
    const body = this.body;
    return {
      origin: upstream.origin,
      path: this.head.target,
      method: this.head.method,
      headers: this.#upstreamHeaders(cert, body),
      body,
      // Watches and `logs -f` stream for as long as they are allowed to (reference/k8s.md §6).
      bodyTimeoutMs: this.kind.longRunning ? 0 : timeoutMs,
    };
  }

  tunnel(cert: Certificate | null): TunnelRequest {
    const { url, upstream } = this.c;
    return {
      host: url.hostname,
      port: url.port,
      path: this.head.target,
      method: this.head.method,
      headers: { ...this.#upstreamHeaders(cert, EMPTY), ...this.upgrade },
      tls: upstream.tls,
      spendsOnUpgrade: spendsOnUpgrade(this.info),
    };
  }

  outcome(): { upstreamRequestId: string | null; error: string | null } {
    return { upstreamRequestId: null, error: null };
  }

  redactedHeaders(): null {
    return null;
  }

  streamNotice(why: string): string | null {
    // A watch says why it ends, as the apiserver would: an ERROR event carrying a Status.
    return this.info.verb === 'watch' ? watchErrorEvent(403, `seb: ${why}`) : null;
  }
}
