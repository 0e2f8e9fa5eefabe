/**
 * AWS as a target of the admission pipeline (targets/target.ts): the readers of this folder
 * (understand, aws-chunked, drift, sign) behind the adapter the runner drives. Per-target settings
 * (endpoints, vending allow-list, read executor, timeouts) are compiled once, in the constructor.
 */
import type { Dispatcher } from 'undici';
import { Denial } from '../../reasons.js';
import type { AwsOp, Certificate, Op } from '../../certificate/types.js';
import type { AwsConfig, AwsExecutor, Config } from '../../config/types.js';
import { matchAwsOp, type Matched } from '../../contract/match.js';
import { MultipartCapture } from '../../contract/capture-multipart.js';
import { awsCarrier } from '../../certificate/carrier.js';
import type { CompactJws } from '../../certificate/compact-jws.js';
import type { AwsMinter } from '../../identity/aws-minter.js';
import type { AwsCredentials } from '../../identity/types.js';
import { policyDigest, sessionPolicy } from '../../identity/session-policy.js';
import { sha256Hex } from '../../lib/digest.js';
import { canonicalJson } from '../../lib/jcs.js';
import type { ExecutorProfile, RenderedAnswer, RequestHead, RequestKind, Target, TargetRequest, TunnelRequest, UpstreamRequest } from '../target.js';
import { understandAws } from './understand.js';
import { decodeAwsBody } from './aws-chunked.js';
import { accountOfRoleArn, resolveArn } from './arn.js';
import { resolveEndpoint } from './endpoints.js';
import { parseQuery } from './query-string.js';
import { signUpstream } from './sign.js';
import { judgeProbe, planProbe } from './drift.js';
import { sendProbe, type ProbeDeps } from './probe.js';
import { renderNativeDenial } from './native-denial.js';
import { redactedHeaders } from './catalog.js';
import type { AwsBody, AwsOperation } from './types.js';

export interface AwsTargetDeps {
  readonly config: Config;
  readonly aws: AwsConfig;
  readonly minter: AwsMinter;
  readonly dispatcher: Dispatcher;
  /** Counts mints served from the cache (`seb_mint_cache_total`). */
  readonly mintCached: (cached: boolean) => void;
}

/** No conditional headers to add: the op has no pre_state, or its operation takes none. */
const NO_GUARD: Readonly<Record<string, string>> = Object.freeze({});

/** Settings of the AWS target, compiled once at start. */
interface Compiled {
  readonly deps: AwsTargetDeps;
  readonly vendingAllowed: ReadonlySet<string>;
  readonly endpoints: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly probe: ProbeDeps | null;
  /** `seb op capture`: answers S3 multipart steps itself so the whole command is captured (SPEC §2.2). */
  readonly multipart: MultipartCapture;
}

export class AwsTarget implements Target {
  readonly name = 'aws' as const;
  readonly bareProjection = Object.freeze({ service: null, region: null, operation: null, resource: null, digest: null });
  readonly carrierHint = 'send the certificate as AWS_SESSION_TOKEN or an X-SEB-Certificate header';
  readonly #c: Compiled;

  constructor(deps: AwsTargetDeps) {
    const { config } = deps;
    const reader = (config.read_executor && config.executors[config.read_executor]?.aws) || null;
    const timeoutMs = config.limits.request_timeout * 1000;
    const endpoints = deps.aws.endpoints;
    this.#c = {
      deps,
      vendingAllowed: new Set(deps.aws.allow_credential_vending),
      endpoints,
      timeoutMs,
      probe: reader && { minter: deps.minter, dispatcher: deps.dispatcher, endpoints, reader, timeoutMs },
      multipart: new MultipartCapture(),
    };
  }

  open(head: RequestHead, upgrade: Readonly<Record<string, string>> | null): TargetRequest {
    if (upgrade) throw new Denial('unparseable_request', 'the aws listener serves no Upgrade');
    return new AwsRequest(this.#c, head);
  }

  renderBare(headers: Readonly<Record<string, string | string[] | undefined>>, status: number, message: string): RenderedAnswer {
    return renderNativeDenial(headers, null, status, message);
  }
}

function kindOf(op: AwsOperation, vendingAllowed: ReadonlySet<string>): RequestKind {
  const vends = op.credentialVending && !vendingAllowed.has(op.operation) ? `${op.service}:${op.operation} hands credentials or secrets to the caller` : null;
  return { read: op.read, vends, longRunning: false };
}

/** One AWS request: read once from its head (and body, where the head does not tell). */
class AwsRequest implements TargetRequest {
  kind: RequestKind | null;
  digest: string | null = null;
  #operation: AwsOperation | null;
  #body: AwsBody | null = null;
  #executor: AwsExecutor | null = null;
  /** The executor role's account: `{account}` in ARNs resolves to it (SPEC §2.1). */
  #account = '';
  #guard: Readonly<Record<string, string>> = NO_GUARD;
  #probe: Readonly<Record<string, unknown>> | null = null;
  #identity: Record<string, unknown> | null = null;
  #credentials: AwsCredentials | null = null;

  constructor(
    readonly c: Compiled,
    readonly head: RequestHead,
  ) {
    // What the head alone tells: enough for S3 and Lambda, not for query/json bodies.
    this.#operation = understandAws(head, null);
    this.kind = this.#operation && kindOf(this.#operation, c.vendingAllowed);
  }

  carrier(): CompactJws | null {
    return awsCarrier(this.head.headers);
  }

  bind(profile: ExecutorProfile): void {
    const executor = profile as AwsExecutor;
    this.#executor = executor;
    this.#account = accountOfRoleArn(executor.role_arn);
  }

  finish(raw: Buffer): RequestKind {
    const body = (this.#body = decodeAwsBody(this.head.headers, raw));
    // Parse once: a reading the head already gave is kept, only query and json need the body.
    if (this.#operation === null) {
      this.#operation = understandAws(this.head, body.payload)!;
      this.kind = kindOf(this.#operation, this.c.vendingAllowed);
    }
    return this.kind!;
  }

  matchHead(ops: readonly Op[]): void {
    matchAwsOp(ops, this.#operation!, this.#account, null, this.head.headers['content-type']);
  }

  match(ops: readonly Op[]): Matched<Op> {
    return matchAwsOp(ops, this.#operation!, this.#account, this.#body!.payload, this.head.headers['content-type'])!;
  }

  capture(account: string, record: (op: Op) => number): RenderedAnswer | null {
    const { payload, integrityHeaders } = this.#body!;
    return this.c.multipart.capture(this.#operation!, account, payload, this.head.headers['content-type'], integrityHeaders, record);
  }

  /**
   * SPEC §2.1 pre_state: probed under the read executor just before minting; a pre_state that does
   * not hold, or that the broker cannot probe exactly, is denied `drift`.
   */
  async drift(matched: Matched<Op>, cert: Certificate): Promise<void> {
    const op = matched.op as AwsOp;
    if (op.pre_state === null) return;
    const deps = this.c.probe;
    if (!deps) throw new Denial('drift', 'no aws read_executor is configured to probe pre_state');
    const plan = planProbe(this.#operation!, resolveArn(this.#operation!.resource, this.#account), op.pre_state);
    const probe = await sendProbe(deps, plan, cert.sub, cert.jti);
    this.c.deps.mintCached(probe.cached);
    this.#probe = probe.identity;
    judgeProbe(plan.check, probe.answer);
    this.#guard = plan.guard;
  }

  async identity(cert: Certificate | null): Promise<void> {
    const executor = this.#executor!;
    const operation = this.#operation!;
    const permissions = operation.permissions.map((p) => ({ action: p.action, resource: resolveArn(p.resource, this.#account) }));
    const policy = sessionPolicy(permissions);
    const minted = await this.c.deps.minter.mint({
      roleArn: executor.role_arn,
      ...(executor.external_id ? { externalId: executor.external_id } : {}),
      policy,
      sub: cert ? cert.sub : 'seb-reader',
      jti: cert ? cert.jti : 'read',
    });
    this.c.deps.mintCached(minted.cached);
    this.#credentials = minted.credentials;
    this.#identity = {
      type: 'aws',
      role_arn: executor.role_arn,
      access_key_id: minted.credentials.accessKeyId,
      policy_sha256: policyDigest(policy),
      cached: minted.cached,
    };
  }

  identityRecord(): Record<string, unknown> | null {
    return this.#probe ? { ...(this.#identity ?? { type: 'aws' }), probe: this.#probe } : this.#identity;
  }

  async prepare(): Promise<UpstreamRequest> {
    const { head } = this;
    const operation = this.#operation!;
    const body = this.#body!;
    const endpoint = resolveEndpoint(operation.service, operation.region, this.c.endpoints, operation.upstream);
    const payloadHash = sha256Hex(body.payload);
    const upstream = signUpstream({
      service: operation.service,
      method: head.method,
      path: head.path,
      query: parseQuery(head.query),
      rawQuery: head.query,
      headers: { ...operation.headers, ...body.integrityHeaders, ...this.#guard },
      payload: body.payload,
      payloadHash,
      endpoint,
      credentials: this.#credentials!,
    });
    this.digest = forwardedDigest(head.method, upstream.url, upstream.headers, payloadHash);
    return {
      origin: upstream.origin,
      path: upstream.target,
      method: head.method,
      headers: upstream.headers,
      body: body.payload,
      bodyTimeoutMs: this.c.timeoutMs,
    };
  }

  tunnel(): TunnelRequest {
    throw new Denial('unparseable_request', 'the aws listener serves no Upgrade');
  }

  project(): Record<string, unknown> {
    const op = this.#operation;
    return {
      service: op?.service ?? null,
      region: op?.region ?? null,
      operation: op?.operation ?? null,
      resource: op ? resolveArn(op.resource, this.#account || '{account}') : null,
      digest: this.digest,
    };
  }

  outcome(status: number, h: Readonly<Record<string, string | string[] | undefined>>): { upstreamRequestId: string | null; error: string | null } {
    return {
      upstreamRequestId: firstHeader(h['x-amz-request-id']) ?? firstHeader(h['x-amzn-requestid']) ?? null,
      // The guard's precondition failed: the pre_state changed between the probe and the forward.
      error: status === 412 && Object.keys(this.#guard).length > 0 ? 'PreconditionFailed: pre_state no longer held upstream (changed after the drift probe)' : null,
    };
  }

  render(status: number, message: string): RenderedAnswer {
    return renderNativeDenial(this.head.headers, this.#operation, status, message);
  }

  redactedHeaders(read: boolean): ReadonlySet<string> | null {
    // A certificate-free read never passes on a `sensitive` member (SPEC §7).
    return read && this.#operation ? redactedHeaders(this.#operation.service, this.#operation.operation) : null;
  }

  streamNotice(): string | null {
    return null;
  }
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The digest of the request as forwarded (SPEC §8), without the signature and token. */
function forwardedDigest(method: string, url: string, headers: Record<string, string>, payloadHash: string): string {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (k !== 'authorization' && k !== 'x-amz-security-token') kept[k] = v;
  return sha256Hex(canonicalJson({ method, url, headers: kept, payload_sha256: payloadHash }));
}
