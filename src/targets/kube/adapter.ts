/**
 * Kubernetes as a target of the admission pipeline (targets/target.ts): RequestInfo, facts, drift
 * and Status answers of this folder behind the adapter the runner drives. The identity is named,
 * not minted: the broker's own credentials with `Impersonate-*` headers (SPEC §5).
 */
import { Denial } from '../../reasons.js';
import type { K8sOp, Op } from '../../certificate/types.js';
import type { Config, K8sExecutor } from '../../config/types.js';
import type { Matched } from '../../contract/matcher.js';
import { matchKubeOp } from './match.js';
import { kubeOpFor } from './capture.js';
import { kubeCarrier } from '../../certificate/carrier.js';
import type { CompactJws } from '../../certificate/compact-jws.js';
import { ParsedBody } from '../../lib/parsed-body.js';
import type { BoundRequest, FinishedRequest, HeadReading, ReadyRequest, RenderedAnswer, RequestHead, Target, TargetRequest } from '../target.js';
import { resolveRequestInfo, type KubeRequestInfo } from './request-info.js';
import { isLongRunning, isReadRequest } from './request-kind.js';
import { kubeFacts, type KubeFacts } from './facts.js';
import { kubeStatus } from './status.js';
import { probeDrift } from './drift.js';
import type { KubeUpstream } from './upstream.js';
import { UPGRADABLE_SUBRESOURCES, unpinnablePorts } from './tunnels.js';
import { KubeView, identityHeaders, type Compiled } from './request-view.js';
import { KubeNamed } from './named-request.js';

const UPGRADABLE_LIST = [...UPGRADABLE_SUBRESOURCES].join(', ');
/** SPEC §4 credential_vending on the Kubernetes path: requests that hand out credentials. */
function vendsCredentials(info: KubeRequestInfo): boolean {
  return (
    (info.resource === 'serviceaccounts' && info.subresource === 'token') ||
    (info.group === 'certificates.k8s.io' && info.resource === 'certificatesigningrequests') ||
    (info.resource === 'secrets' && (info.verb === 'get' || info.verb === 'list' || info.verb === 'watch'))
  );
}

export class KubeTarget implements Target<K8sExecutor> {
  readonly name = 'k8s' as const;
  readonly bareProjection = Object.freeze({ verb: null, group: null, version: null, resource: null, subresource: null, namespace: null, name: null });
  readonly carrierHint = 'put the certificate in the kubeconfig user token or an X-SEB-Certificate header';
  readonly reader: K8sExecutor | null;
  readonly #executors: ReadonlyMap<string, K8sExecutor>;
  readonly #c: Compiled;

  constructor(config: Config, upstream: KubeUpstream) {
    const executors = new Map<string, K8sExecutor>();
    for (const [name, e] of Object.entries(config.executors)) if (e.k8s) executors.set(name, e.k8s);
    this.#executors = executors;
    this.reader = (config.read_executor && executors.get(config.read_executor)) || null;
    this.#c = { upstream, reader: this.reader, timeoutMs: config.limits.request_timeout * 1000, url: new URL(upstream.origin) };
  }

  executor(name: string): K8sExecutor | null {
    return this.#executors.get(name) ?? null;
  }

  open(head: RequestHead, upgrade: Readonly<Record<string, string>> | null): TargetRequest<K8sExecutor> {
    return new KubeOpened(this.#c, head, upgrade);
  }

  renderBare(_headers: unknown, status: number, message: string): RenderedAnswer {
    const { status: code, body } = kubeStatus(status, message);
    return { status: code, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  }
}

/** One Kubernetes request: its RequestInfo tells the kind from the head alone. */
class KubeOpened extends KubeView implements TargetRequest<K8sExecutor>, HeadReading<K8sExecutor> {
  readonly early = this;

  constructor(c: Compiled, head: RequestHead, upgrade: Readonly<Record<string, string>> | null) {
    const info = resolveRequestInfo(head.method, head.path, head.query);
    // The apiserver upgrades only these; anywhere else an Upgrade header would be read two ways.
    if (upgrade && !UPGRADABLE_SUBRESOURCES.has(info.subresource)) throw new Denial('unparseable_request', `an Upgrade is served only for ${UPGRADABLE_LIST}`);
    const vends = vendsCredentials(info) ? `${info.verb} ${info.resource}${info.subresource ? `/${info.subresource}` : ''} hands out credentials` : null;
    super(c, head, upgrade, info, { read: isReadRequest(info), vends, longRunning: isLongRunning(info) }, null);
  }

  carrier(): CompactJws | null {
    return kubeCarrier(this.head.headers);
  }

  /** The head alone pins nothing here: a create's name may be in its body (SPEC §2.1). */
  matchHead(): void {}

  finish(raw: Buffer): KubeReading {
    // The body parsed at most once, by whichever of facts, match and drift needs it first.
    const parsed = new ParsedBody(raw);
    const facts = kubeFacts(this.info, this.head.headers['content-type'], raw, parsed.json);
    return new KubeReading(this, facts, parsed);
  }

  /** A read needs no facts: its body is neither matched nor probed. */
  passRead(raw: Buffer, reader: K8sExecutor): KubeReady {
    return new KubeReady(this, null, reader, raw);
  }
}

/** The request with its body read into facts for matching. */
class KubeReading extends KubeView implements FinishedRequest<K8sExecutor> {
  constructor(
    opened: KubeOpened,
    override readonly facts: KubeFacts,
    readonly parsed: ParsedBody,
  ) {
    super(opened.c, opened.head, opened.upgrade, opened.info, opened.kind, facts);
  }

  capture(_account: string, record: (op: Op) => number): null {
    record(kubeOpFor(this.facts, this.parsed.bytes));
    return null;
  }

  bind(executor: K8sExecutor): KubeBound {
    return new KubeBound(this, executor);
  }
}

/** A request with the executor it is impersonated as. */
class KubeReady extends KubeView implements ReadyRequest<K8sExecutor> {
  constructor(
    view: KubeView,
    facts: KubeFacts | null,
    readonly executor: K8sExecutor,
    /** What goes upstream: the client's body, or the body with preconditions added (drift). */
    public body: Buffer,
  ) {
    super(view.c, view.head, view.upgrade, view.info, view.kind, facts);
  }

  /** The identity is named, not minted: impersonation of the executor (SPEC §5). */
  async identity(): Promise<KubeNamed> {
    return new KubeNamed(this, this.executor, this.body);
  }
}

/** A certified request bound to its executor: matched, then probed. */
class KubeBound extends KubeReady implements BoundRequest<K8sExecutor> {
  constructor(
    readonly reading: KubeReading,
    executor: K8sExecutor,
  ) {
    super(reading, reading.facts, executor, reading.parsed.bytes);
  }

  match(ops: readonly Op[]): Matched<Op> {
    const { facts, parsed } = this.reading;
    const matched = matchKubeOp(ops, facts, parsed.bytes, parsed.json);
    if (this.upgrade) {
      const unpinnable = unpinnablePorts(this.info, matched.op.params, this.upgrade['upgrade'], this.upgrade['sec-websocket-protocol']);
      if (unpinnable !== null) throw new Denial('contract_mismatch', unpinnable);
    }
    return matched;
  }

  async drift(matched: Matched<Op>): Promise<void> {
    const op = matched.op as K8sOp;
    if (op.pre_state === null) return;
    const { facts, parsed } = this.reading;
    const guarded = await probeDrift(this.#probe(), facts, op.pre_state, parsed.bytes, parsed.json);
    if (guarded !== null) this.body = guarded;
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
        headers: identityHeaders(this.c, reader, null, { accept: 'application/json' }),
        headersTimeout: timeoutMs,
      });
      return { status: answer.statusCode, body: Buffer.from(await answer.body.arrayBuffer()) };
    };
  }
}

