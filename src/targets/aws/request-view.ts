/**
 * What every phase of an AWS request shares (adapter.ts, signed-request.ts): the target's settings
 * compiled once at start, the executor profile, and the view a record or a denial reads.
 */
import type { Dispatcher } from 'undici';
import type { AwsConfig, AwsExecutor, Config } from '../../config/types.js';
import type { MultipartCapture } from './capture-multipart.js';
import type { AwsMinter } from '../../identity/aws-minter.js';
import type { RenderedAnswer, RequestHead, RequestKind, RequestView } from '../target.js';
import { ACCOUNT, resolveArn } from './arn.js';
import type { ProbeDeps } from './probe.js';
import { renderNativeDenial } from './native-denial.js';
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
export const NO_GUARD: Readonly<Record<string, string>> = Object.freeze({});

/** This target's profile of an executor: its role, and the account `{account}` in ARNs resolves to (SPEC §2.1). */
export interface AwsProfile {
  readonly executor: AwsExecutor;
  readonly account: string;
}

/** Settings of the AWS target, compiled once at start. */
export interface Compiled {
  readonly deps: AwsTargetDeps;
  readonly vendingAllowed: ReadonlySet<string>;
  readonly endpoints: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly probe: ProbeDeps | null;
  /** `seb op capture`: answers S3 multipart steps itself so the whole command is captured (SPEC §2.2). */
  readonly multipart: MultipartCapture;
}

/** What every phase of an AWS request tells its records and denials: the operation, once known. */
export abstract class AwsView implements RequestView<AwsProfile> {
  constructor(
    readonly c: Compiled,
    readonly head: RequestHead,
    readonly operation: AwsOperation | null,
  ) {}

  /** SPEC §8 `request.digest` of what was forwarded, once it is signed (AwsMinted.prepare). */
  protected digest: string | null = null;

  project(profile: AwsProfile | null): Record<string, unknown> {
    const op = this.operation;
    return {
      service: op?.service ?? null,
      region: op?.region ?? null,
      operation: op?.operation ?? null,
      resource: op ? resolveArn(op.resource, profile?.account ?? ACCOUNT) : null,
      digest: this.digest,
    };
  }

  identityRecord(): Record<string, unknown> | null {
    return null;
  }

  render(status: number, message: string): RenderedAnswer {
    return renderNativeDenial(this.head.headers, this.operation, status, message);
  }
}

/** An AWS request read in full (head and body): what every phase after `finish` reads. */
export abstract class AwsRead extends AwsView {
  constructor(
    c: Compiled,
    head: RequestHead,
    override readonly operation: AwsOperation,
    readonly kind: RequestKind,
    readonly body: AwsBody,
  ) {
    super(c, head, operation);
  }
}
