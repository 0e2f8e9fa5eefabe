/**
 * Kubernetes as a target of the admission pipeline (targets/target.ts): RequestInfo, facts, drift
 * and Status answers of this folder behind the adapter the runner drives. The identity is named,
 * not minted: the broker's own credentials with `Impersonate-*` headers (SPEC §5).
 */
import { Denial } from '../../reasons.js';
import type { Certificate, K8sOp, Op } from '../../certificate/types.js';
import type { Config, K8sExecutor } from '../../config/types.js';
import type { Matched } from '../../contract/match.js';
import { matchKubeOp } from '../../contract/match-kube.js';
import { kubeOpFor } from '../../contract/capture.js';
import { kubeCarrier } from '../../certificate/carrier.js';
import type { CompactJws } from '../../certificate/compact-jws.js';
import { ParsedBody } from '../../lib/parsed-body.js';
import type { ExecutorProfile, RenderedAnswer, RequestHead, RequestKind, Target, TargetRequest, TunnelRequest, UpstreamRequest } from '../target.js';
import { resolveRequestInfo, type KubeRequestInfo } from './request-info.js';
import { isLongRunning, isReadRequest } from './request-kind.js';
import { kubeFacts, type KubeFacts } from './facts.js';
import { kubeStatus, watchErrorEvent } from './status.js';
import { probeDrift } from './drift.js';
import type { KubeUpstream } from './upstream.js';
import { UPGRADABLE_SUBRESOURCES, spendsOnUpgrade, unpinnablePorts } from './tunnels.js';

/** Client headers that carry meaning the apiserver needs; everything else is dropped (SPEC §3). */
const PASSED_HEADERS = ['accept', 'accept-encoding', 'content-type', 'user-agent', 'kubectl-command', 'kubectl-session', 'audit-id'] as const;
const UPGRADABLE_LIST = [...UPGRADABLE_SUBRESOURCES].join(', ');
const EMPTY = Buffer.alloc(0);

/** SPEC §4 credential_vending on the Kubernetes path: requests that hand out credentials. */
function vendsCredentials(info: KubeRequestInfo): boolean {
  return (
    (info.resource === 'serviceaccounts' && info.subresource === 'token') ||
    (info.group === 'certificates.k8s.io' && info.resource === 'certificatesigningrequests') ||
    (info.resource === 'secrets' && (info.verb === 'get' || info.verb === 'list' || info.verb === 'watch'))
  );
}

/** Settings of the Kubernetes target, compiled once at start. */
interface Compiled {
  readonly upstream: KubeUpstream;
  readonly reader: K8sExecutor | null;
  readonly timeoutMs: number;
  readonly url: URL;
}

export class KubeTarget implements Target {
  readonly name = 'k8s' as const;
  readonly bareProjection = Object.freeze({ verb: null, group: null, version: null, resource: null, subresource: null, namespace: null, name: null });
  readonly carrierHint = 'put the certificate in the kubeconfig user token or an X-SEB-Certificate header';
  readonly #c: Compiled;

  constructor(config: Config, upstream: KubeUpstream) {
    const reader = (config.read_executor && config.executors[config.read_executor]?.k8s) || null;
    this.#c = { upstream, reader, timeoutMs: config.limits.request_timeout * 1000, url: new URL(upstream.origin) };
  }

  open(head: RequestHead, upgrade: Readonly<Record<string, string>> | null): TargetRequest {
    return new KubeRequest(this.#c, head, upgrade);
  }

  renderBare(_headers: unknown, status: number, message: string): RenderedAnswer {
    const { status: code, body } = kubeStatus(status, message);
    return { status: code, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  }
}

/** One Kubernetes request: RequestInfo from the head, facts (for matching) once the body is in. */
class KubeRequest implements TargetRequest {
  readonly kind: RequestKind;
  readonly digest = null;
  readonly #info: KubeRequestInfo;
  #facts: KubeFacts | null = null;
  #body: Buffer = EMPTY;
  /** The body parsed at most once, by whichever of facts, match and drift needs it first. */
  #parsed: ParsedBody | null = null;
  #executor: K8sExecutor | null = null;
  #named = false;

  constructor(
    readonly c: Compiled,
    readonly head: RequestHead,
    /** An upgrade's handshake headers (tunnels.ts reads its protocols), or null. */
    readonly upgrade: Readonly<Record<string, string>> | null,
  ) {
    const info = (this.#info = resolveRequestInfo(head.method, head.path, head.query));
    // The apiserver upgrades only these; anywhere else an Upgrade header would be read two ways.
    if (upgrade && !UPGRADABLE_SUBRESOURCES.has(info.subresource)) throw new Denial('unparseable_request', `an Upgrade is served only for ${UPGRADABLE_LIST}`);
    const vends = vendsCredentials(info) ? `${info.verb} ${info.resource}${info.subresource ? `/${info.subresource}` : ''} hands out credentials` : null;
    this.kind = { read: isReadRequest(info), vends, longRunning: isLongRunning(info) };
  }

  carrier(): CompactJws | null {
    return kubeCarrier(this.head.headers);
  }

  bind(profile: ExecutorProfile): void {
    this.#executor = profile as K8sExecutor;
  }

  finish(raw: Buffer, admitting: boolean): RequestKind {
    this.#body = raw;
    if (admitting) {
      this.#parsed = new ParsedBody(raw);
      this.#facts = kubeFacts(this.#info, this.head.headers['content-type'], raw, this.#parsed.json);
    }
    return this.kind;
  }

  /** The head alone pins nothing here: a create's name may be in its body (SPEC §2.1). */
  matchHead(): void {}

  match(ops: readonly Op[]): Matched<Op> {
    const matched = matchKubeOp(ops, this.#facts!, this.#body, this.#parsed!.json);
    if (this.upgrade) {
      const unpinnable = unpinnablePorts(this.#info, matched.op.params, this.upgrade['upgrade'], this.upgrade['sec-websocket-protocol']);
      if (unpinnable !== null) throw new Denial('contract_mismatch', unpinnable);
    }
    return matched;
  }

  capture(_account: string, record: (op: Op) => number): null {
    record(kubeOpFor(this.#facts!, this.#body));
    return null;
  }

  async drift(matched: Matched<Op>): Promise<void> {
    const op = matched.op as K8sOp;
    if (op.pre_state === null) return;
    const guarded = await probeDrift(this.#probe(), this.#facts!, op.pre_state, this.#body, this.#parsed!.json);
    if (guarded !== null) this.#body = guarded;
  }

  /** GETs an object under the read executor, for drift probes (SPEC §2.1: probed as the reader). */
  #probe(): (path: string) => Promise<{ status: number; body: Buffer }> {
    const reader = this.c.reader;
    if (!reader) throw new Denial('drift', 'no k8s read_executor is configured to probe pre_state');
    return async (path) => {
      const { upstream, timeoutMs } = this.c;
      const answer = await upstream.dispatcher.request({
        origin: upstream.origin,
        path,
        method: 'GET',
        headers: this.#identityHeaders(reader, null, { accept: 'application/json' }),
        headersTimeout: timeoutMs,
      });
      return { status: answer.statusCode, body: Buffer.from(await answer.body.arrayBuffer()) };
    };
  }

  async identity(): Promise<void> {
    this.#named = true;
  }

  identityRecord(): Record<string, unknown> | null {
    const e = this.#executor;
    return this.#named && e ? { type: 'k8s', user: e.user, groups: [...e.groups] } : null;
  }

  #identityHeaders(executor: K8sExecutor, jti: string | null, base: Record<string, string | string[]>): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = { ...base, 'impersonate-user': executor.user };
    if (executor.groups.length) headers['impersonate-group'] = [...executor.groups];
    // SPEC §5: the apiserver's audit log names the certificate.
    if (jti !== null) headers['impersonate-extra-seb.io%2fcertificate'] = jti;
    const authorization = this.c.upstream.authorization();
    if (authorization) headers['authorization'] = authorization;
    return headers;
  }

  #upstreamHeaders(cert: Certificate | null, body: Buffer): Record<string, string | string[]> {
    const base: Record<string, string> = {};
    const client = this.head.headers;
    for (const name of PASSED_HEADERS) if (client[name] !== undefined) base[name] = client[name]!;
    if (body.length) base['content-length'] = String(body.length);
    return this.#identityHeaders(this.#executor!, cert?.jti ?? null, base);
  }

  async prepare(cert: Certificate | null): Promise<UpstreamRequest> {
    const { upstream, timeoutMs } = this.c;
    const body = this.#body;
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
      spendsOnUpgrade: spendsOnUpgrade(this.#info),
    };
  }

  project(): Record<string, unknown> {
    const info = this.#info;
    const facts = this.#facts;
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

  outcome(): { upstreamRequestId: string | null; error: string | null } {
    return { upstreamRequestId: null, error: null };
  }

  render(status: number, message: string, denial: boolean): RenderedAnswer {
    const info = this.#info;
    const details = denial && info.resource ? { ...(info.name ? { name: info.name } : {}), group: info.group, kind: info.resource } : undefined;
    const { status: code, body } = kubeStatus(status, message, details);
    return { status: code, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  }

  redactedHeaders(): null {
    return null;
  }

  streamNotice(why: string): string | null {
    // A watch says why it ends, as the apiserver would: an ERROR event carrying a Status.
    return this.#info.verb === 'watch' ? watchErrorEvent(403, `seb: ${why}`) : null;
  }
}
