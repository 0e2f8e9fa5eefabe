/**
 * The adapter every target (AWS, Kubernetes) implements for the one admission pipeline
 * (server/runner.ts). The runner owns the order of the stages, the certificate, the ledger, the
 * records and every response; a target only reads its own protocol and speaks to its own upstream.
 * Chosen once per listener at start (server/broker.ts), so no stage branches on the target.
 *
 * A target opens one `TargetRequest` per request: that object holds the request's one typed reading
 * (parsed once, SPEC §2.1) and answers the runner's questions about it in pipeline order.
 */
import type { Certificate, Op } from '../certificate/types.js';
import type { CompactJws } from '../certificate/compact-jws.js';
import type { Matched } from '../contract/matcher.js';

export type TargetName = 'aws' | 'k8s';

/** The request after HTTP hygiene (SPEC §3): exactly what came on the wire, one value per header. */
export interface RequestHead {
  readonly method: string;
  /** The request target exactly as sent (path and query): what goes upstream where nothing is re-signed. */
  readonly target: string;
  /** The path exactly as sent (still percent-encoded), starting with `/`. */
  readonly path: string;
  /** The query string exactly as sent, without `?`; `''` when there is none. */
  readonly query: string;
  /** Lower-cased names, one value each, null prototype. */
  readonly headers: Readonly<Record<string, string>>;
  /** The client asked for `Expect: 100-continue`. */
  readonly expectContinue: boolean;
  /** Declared body length, or null for a chunked body. */
  readonly contentLength: number | null;
}

/** What kind of request this is (SPEC §4, §7), known from the head or only once the body is read. */
export interface RequestKind {
  /** On the read allow-list (SPEC §7). */
  readonly read: boolean;
  /** Why it would hand credentials or secrets to the agent, or null (SPEC §4 credential_vending). */
  readonly vends: string | null;
  /** Watch, logs -f, exec, attach, port-forward, proxy: closed when the certificate stops holding. */
  readonly longRunning: boolean;
}

/** One request upstream, prepared by the target (signed, impersonating) and sent by the runner. */
export interface UpstreamRequest {
  readonly origin: string;
  /** The request target (path and query). */
  readonly path: string;
  readonly method: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
  /** 0: no bound (a watch streams for as long as it is allowed to). */
  readonly bodyTimeoutMs: number;
}

/** An upgrade (exec, attach, port-forward, proxy) opened as its own TLS connection upstream. */
export interface TunnelRequest {
  readonly host: string;
  readonly port: string;
  readonly path: string;
  readonly method: string;
  readonly headers: Record<string, string | string[]>;
  readonly tls: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer };
  /**
   * exec, attach, port-forward: the use is held until the apiserver answers and spent on its 101;
   * otherwise (proxy) it is spent before the request is sent, like any other (SPEC §2.1).
   */
  readonly spendsOnUpgrade: boolean;
}

/** A native error answer (AWS error XML/JSON, Kubernetes Status). */
export interface RenderedAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Bytes for binary protocols (smithy-rpc-v2-cbor). */
  readonly body: string | Uint8Array;
}

/**
 * A target, generic over its own profile of an executor (`P`: the AWS role and its account, the
 * Kubernetes user and groups), compiled once at start from config `executors` so that no request
 * looks an executor up in config or narrows a union of the two.
 */
export interface Target<P> {
  readonly name: TargetName;
  /** Where the client should put its certificate: the `no_certificate` detail (SPEC §3). */
  readonly carrierHint: string;
  /** This target's profile of the executor named `name`, or null when it has none here (SPEC §5). */
  executor(name: string): P | null;
  /** The read executor's profile (SPEC §7), or null when none is configured for this target. */
  readonly reader: P | null;
  /**
   * Reads the head; throws `unparseable_request` when it can be read more than one way. `upgrade`
   * is an upgrade's handshake headers (hygiene drops them as hop-by-hop), null for any other request.
   */
  open(head: RequestHead, upgrade: Readonly<Record<string, string>> | null): TargetRequest<P>;
  /** The decision record's target fields for a request the target could not open (all null). */
  readonly bareProjection: Readonly<Record<string, null>>;
  /** The native error answer for a request the target could not even open (hygiene refused it). */
  renderBare(headers: Readonly<Record<string, string | string[] | undefined>>, status: number, message: string): RenderedAnswer;
}

/**
 * What every phase of a request answers, for its decision record and its denial. The runner keeps
 * the latest phase it reached (Exchange.view), so a denial names as much as was read.
 */
export interface RequestView<P> {
  /** The target-specific fields of the decision record's `request` (SPEC §8); `profile` once resolved. */
  project(profile: P | null): Record<string, unknown>;
  /** The identity for the decision record, or null before one is named. */
  identityRecord(): Record<string, unknown> | null;
  /** A native error answer in the client's own format (SPEC §4). */
  render(status: number, message: string, denial: boolean): RenderedAnswer;
}

/**
 * The phases of one request, each returned by the stage that completes the one before, so a stage
 * receives what earlier stages guaranteed (STYLE.md "preconditions live in types"):
 * open (head) -> finish (body) -> bind (executor) -> identity (mint) -> prepare or tunnel (sign).
 */
export interface TargetRequest<P> extends RequestView<P> {
  /** What the head alone tells, or null when the body must be read first (AWS query and json). */
  readonly early: HeadReading<P> | null;
  /** The certificate as carried (SPEC §3), or null; throws `malformed_certificate` for a bad carrier. */
  carrier(): CompactJws | null;
  /** Reads the body into the one typed reading every later stage uses (parsed once, SPEC §2.1). */
  finish(raw: Buffer): FinishedRequest<P>;
  /**
   * A read let through under `reads: allow` (SPEC §7): it needs no op-shaped reading, and goes out
   * under the read executor.
   */
  passRead(raw: Buffer, reader: P): ReadyRequest<P>;
}

/** What the head alone tells: enough to refuse before the body is read (SPEC §3). */
export interface HeadReading<P> {
  readonly kind: RequestKind;
  /** Throws `contract_mismatch` when no op can pin the request's head. */
  matchHead(ops: readonly Op[], profile: P): void;
}

/** The request with its body read. */
export interface FinishedRequest<P> extends RequestView<P> {
  readonly kind: RequestKind;
  /**
   * `seb op capture`: hands `record` the op this request would need. Returns the answer the capture
   * broker gives in the upstream's place so the client goes on (an S3 multipart step, SPEC §2.2),
   * or null to refuse the request once its op is printed.
   */
  capture(account: string, record: (op: Op) => number): RenderedAnswer | null;
  /** The identity the request goes out under: the certificate's executor or the read executor (SPEC §5, §7). */
  bind(profile: P): BoundRequest<P>;
}

/** A request with the identity it goes out under: ready to be minted for. */
export interface ReadyRequest<P> extends RequestView<P> {
  readonly kind: RequestKind;
  /** Mints or names the identity the request goes out under; throws `mint_failed`. */
  identity(certificate: Certificate | null): Promise<AdmittedRequest<P>>;
}

/** A certified request bound to its executor: matched and probed before it is minted for. */
export interface BoundRequest<P> extends ReadyRequest<P> {
  /** SPEC §2.1: the op that pins this request and binds its body; throws `contract_mismatch`, `body_mismatch`. */
  match(ops: readonly Op[]): Matched<Op>;
  /** SPEC §2.1 pre_state, probed under the read executor; throws `drift`. */
  drift(matched: Matched<Op>, certificate: Certificate): Promise<void>;
}

/** A request whose identity is minted or named: what the sign and upstream stages use. */
export interface AdmittedRequest<P> extends RequestView<P> {
  readonly kind: RequestKind;
  /** Signs or impersonates: the request as it goes upstream. */
  prepare(certificate: Certificate | null): Promise<UpstreamRequest>;
  /** An upgrade's upstream connection. */
  tunnel(certificate: Certificate | null): TunnelRequest;
  /** The upstream request id and any error the answer itself signals (AWS: a failed guard). */
  outcome(status: number, headers: Readonly<Record<string, string | string[] | undefined>>): { upstreamRequestId: string | null; error: string | null };
  /** Answer headers never relayed to the client (a read's `sensitive` members, SPEC §7), or null. */
  redactedHeaders(read: boolean): ReadonlySet<string> | null;
  /** What a long-lived answer says as the broker ends it (a watch's ERROR event), or null. */
  streamNotice(why: string): string | null;
}
