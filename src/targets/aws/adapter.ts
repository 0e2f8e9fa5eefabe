/**
 * AWS as a target of the admission pipeline (targets/target.ts): the readers of this folder
 * (understand, aws-chunked, drift, sign) behind the adapter the runner drives. Per-target settings
 * (endpoints, vending allow-list, read executor, timeouts) are compiled once, in the constructor.
 */
import { Denial } from '../../reasons.js';
import type { AwsOp, Certificate, Op } from '../../certificate/types.js';
import type { Matched } from '../../contract/matcher.js';
import { matchAwsHead, matchAwsOp } from './match.js';
import { MultipartCapture } from './capture-multipart.js';
import { awsCarrier } from '../../certificate/carrier.js';
import type { CompactJws } from '../../certificate/compact-jws.js';
import { policyDigest, sessionPolicy } from '../../identity/session-policy.js';
import type { BoundRequest, FinishedRequest, HeadReading, RenderedAnswer, RequestHead, RequestKind, Target, TargetRequest } from '../target.js';
import { understandAws } from './understand.js';
import { decodeAwsBody } from './aws-chunked.js';
import { accountOfRoleArn, resolveArn } from './arn.js';
import { judgeProbe, planProbe } from './drift.js';
import { sendProbe } from './probe.js';
import { renderNativeDenial } from './native-denial.js';
import { AwsRead, AwsView, NO_GUARD, type AwsProfile, type AwsTargetDeps, type Compiled } from './request-view.js';
import { AwsMinted } from './signed-request.js';
import type { AwsOperation } from './types.js';

export class AwsTarget implements Target<AwsProfile> {
  readonly name = 'aws' as const;
  readonly bareProjection = Object.freeze({ service: null, region: null, operation: null, resource: null, digest: null });
  readonly carrierHint = 'send the certificate as AWS_SESSION_TOKEN or an X-SEB-Certificate header';
  readonly reader: AwsProfile | null;
  readonly #executors: ReadonlyMap<string, AwsProfile>;
  readonly #c: Compiled;

  constructor(deps: AwsTargetDeps) {
    const { config } = deps;
    const executors = new Map<string, AwsProfile>();
    for (const [name, e] of Object.entries(config.executors)) if (e.aws) executors.set(name, { executor: e.aws, account: accountOfRoleArn(e.aws.role_arn) });
    const reader = (config.read_executor && executors.get(config.read_executor)) || null;
    const timeoutMs = config.limits.request_timeout * 1000;
    const endpoints = deps.aws.endpoints;
    this.#executors = executors;
    this.reader = reader;
    this.#c = {
      deps,
      vendingAllowed: new Set(deps.aws.allow_credential_vending),
      endpoints,
      timeoutMs,
      probe: reader && { minter: deps.minter, dispatcher: deps.dispatcher, endpoints, reader: reader.executor, timeoutMs },
      multipart: new MultipartCapture(),
    };
  }

  executor(name: string): AwsProfile | null {
    return this.#executors.get(name) ?? null;
  }

  open(head: RequestHead, upgrade: Readonly<Record<string, string>> | null): TargetRequest<AwsProfile> {
    if (upgrade) throw new Denial('unparseable_request', 'the aws listener serves no Upgrade');
    return new AwsOpened(this.#c, head);
  }

  renderBare(headers: Readonly<Record<string, string | string[] | undefined>>, status: number, message: string): RenderedAnswer {
    return renderNativeDenial(headers, null, status, message);
  }
}

function kindOf(op: AwsOperation, vendingAllowed: ReadonlySet<string>): RequestKind {
  const vends = op.credentialVending && !vendingAllowed.has(op.operation) ? `${op.service}:${op.operation} hands credentials or secrets to the caller` : null;
  return { read: op.read, vends, longRunning: false };
}

/** One AWS request as its head tells it: the operation for S3 and Lambda, not for query/json bodies. */
class AwsOpened extends AwsView implements TargetRequest<AwsProfile> {
  readonly early: HeadReading<AwsProfile> | null;

  constructor(c: Compiled, head: RequestHead) {
    super(c, head, understandAws(head, null));
    this.early = this.operation && new AwsHead(this.operation, kindOf(this.operation, c.vendingAllowed), head.headers['content-type']);
  }

  carrier(): CompactJws | null {
    return awsCarrier(this.head.headers);
  }

  finish(raw: Buffer): AwsReading {
    const body = decodeAwsBody(this.head.headers, raw);
    // Parse once: a reading the head already gave is kept, only query and json need the body.
    const operation = this.operation ?? understandAws(this.head, body.payload);
    const kind = this.early?.kind ?? kindOf(operation, this.c.vendingAllowed);
    return new AwsReading(this.c, this.head, operation, kind, body);
  }

  passRead(raw: Buffer, reader: AwsProfile): AwsBound {
    return this.finish(raw).bind(reader);
  }
}

class AwsHead implements HeadReading<AwsProfile> {
  constructor(
    readonly operation: AwsOperation,
    readonly kind: RequestKind,
    readonly contentType: string | undefined,
  ) {}

  matchHead(ops: readonly Op[], profile: AwsProfile): void {
    matchAwsHead(ops, this.operation, profile.account);
  }
}

/** One AWS request read in full: its operation and its decoded body. */
class AwsReading extends AwsRead implements FinishedRequest<AwsProfile> {
  capture(account: string, record: (op: Op) => number): RenderedAnswer | null {
    const { payload, integrityHeaders } = this.body;
    return this.c.multipart.capture(this.operation, account, payload, this.head.headers['content-type'], integrityHeaders, record);
  }

  bind(profile: AwsProfile): AwsBound {
    return new AwsBound(this, profile);
  }
}

/** A request bound to the executor it goes out under (the certificate's, or the read executor). */
class AwsBound extends AwsView implements BoundRequest<AwsProfile> {
  readonly kind: RequestKind;
  /** Conditional headers that make the forward fail when pre_state changed after the probe. */
  guard: Readonly<Record<string, string>> = NO_GUARD;
  /** The probe's identity, for the decision record. */
  probe: Readonly<Record<string, unknown>> | null = null;

  constructor(
    readonly reading: AwsReading,
    readonly profile: AwsProfile,
  ) {
    super(reading.c, reading.head, reading.operation);
    this.kind = reading.kind;
  }

  match(ops: readonly Op[]): Matched<Op> {
    const { reading } = this;
    return matchAwsOp(ops, reading.operation, this.profile.account, reading.body.payload, this.head.headers['content-type']);
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
    const operation = this.reading.operation;
    const plan = planProbe(operation, resolveArn(operation.resource, this.profile.account), op.pre_state);
    const probe = await sendProbe(deps, plan, cert.sub, cert.jti);
    this.c.deps.mintCached(probe.cached);
    this.probe = probe.identity;
    judgeProbe(plan.check, probe.answer);
    this.guard = plan.guard;
  }

  override identityRecord(): Record<string, unknown> | null {
    return this.probe ? { type: 'aws', probe: this.probe } : null;
  }

  async identity(cert: Certificate | null): Promise<AwsMinted> {
    const { executor, account } = this.profile;
    const permissions = this.reading.operation.permissions.map((p) => ({ action: p.action, resource: resolveArn(p.resource, account) }));
    const policy = sessionPolicy(permissions);
    const minted = await this.c.deps.minter.mint({
      roleArn: executor.role_arn,
      ...(executor.external_id ? { externalId: executor.external_id } : {}),
      policy,
      sub: cert ? cert.sub : 'seb-reader',
      jti: cert ? cert.jti : 'read',
    });
    this.c.deps.mintCached(minted.cached);
    const identity = {
      type: 'aws',
      role_arn: executor.role_arn,
      access_key_id: minted.credentials.accessKeyId,
      policy_sha256: policyDigest(policy),
      cached: minted.cached,
    };
    return new AwsMinted(this.reading, this.guard, minted.credentials, this.probe ? { ...identity, probe: this.probe } : identity);
  }
}
