/**
 * Mints the scoped AWS identity a certified request executes under (SPEC §5): STS AssumeRole with
 * the broker's own credentials, the executor role, and an inline session policy allowing exactly
 * the certified operation. The agent never sees these credentials; they only sign the forwarded
 * request (targets/aws/sign.ts).
 */
import { AssumeRoleCommand, STSClient, type AssumeRoleCommandInput } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { LRUCache } from 'lru-cache';
import type { AwsCredentialsConfig } from '../config/types.js';
import type { AwsCredentials, Endpoint } from './types.js';
import { Denial } from '../reasons.js';
import { after, SYSTEM_CLOCK, type Clock } from '../lib/clock.js';
import { sha256Base64url } from '../lib/digest.js';
import { policyDigest } from './session-policy.js';

/** The STS minimum, and the shortest exposure a leaked session could have (SPEC §5). */
const DURATION_SECONDS = 900;
/** A cached identity is not handed out in its last minute: a request must finish before expiry. */
const EXPIRY_MARGIN_MS = 60_000;
/** Bound on one STS call: the request waits on it, and a broker that cannot mint fails closed. */
export const STS_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_ENTRIES = 1024;
/** STS's limit on RoleSessionName and SourceIdentity (reference/aws.md §5). */
const MAX_NAME_CHARS = 64;
/** The characters STS allows in RoleSessionName and SourceIdentity: `[\w+=,.@-]`, ASCII `\w`. */
const NOT_NAME_CHARS = /[^A-Za-z0-9_+=,.@-]/g;
const SOURCE_IDENTITY = /^[A-Za-z0-9_+=,.@-]{2,64}$/;
/** Session tag naming the certificate in per_certificate mode, so CloudTrail itself attributes it. */
export const CERTIFICATE_TAG = 'seb:certificate';
/** An STS message goes into the denial detail and the record; keep it one bounded line. */
const MAX_DETAIL_CHARS = 512;

export interface AwsMinterOptions {
  /** The broker's own credentials, used only for STS (SPEC §10 `aws.credentials`). */
  readonly credentials: AwsCredentialsConfig;
  /** STS origin and signing region, from the broker's endpoint table. */
  readonly endpoint: Endpoint;
  readonly brokerId: string;
  readonly mode: 'per_scope' | 'per_certificate';
  /** The cache's expiry and the bound on an STS call (default: the system clock); tests move it. */
  readonly clock?: Clock;
  readonly maxEntries?: number;
}

export interface MintRequest {
  readonly roleArn: string;
  readonly externalId?: string;
  /** The session policy text, from sessionPolicy(). */
  readonly policy: string;
  /** The certificate's `sub`. */
  readonly sub: string;
  /** The certificate's `jti`. */
  readonly jti: string;
}

export interface MintResult {
  readonly credentials: AwsCredentials;
  /** False only for the request whose mint made the STS call; cache hits and joiners are true. */
  readonly cached: boolean;
}

/** `sub` itself when STS accepts it as SourceIdentity, else a stable digest of it (SPEC §5). */
export function sourceIdentity(sub: string): string {
  // The charset already excludes `:`, so the reserved `aws:` prefix cannot pass the pattern.
  return SOURCE_IDENTITY.test(sub) ? sub : `seb-${sha256Base64url(sub)}`;
}

function sanitize(value: string): string {
  return value.replace(NOT_NAME_CHARS, '-');
}

/**
 * RoleSessionName: at most 64 characters of `[\w+=,.@-]`, built from the broker id and the policy
 * digest (CloudTrail shows it next to every call); per_certificate adds the jti. A jti that had to
 * be altered or cut gets a digest of its exact value, so distinct certificates keep distinct names
 * (the exact jti is in the session tag).
 */
export function roleSessionName(brokerId: string, digest: string, jti: string | null): string {
  if (jti === null) {
    const broker = sanitize(brokerId).slice(0, MAX_NAME_CHARS - 1 - digest.length);
    return `${broker}.${digest}`;
  }
  const prefix = `${sanitize(brokerId).slice(0, 16)}.${digest.slice(0, 11)}.`;
  const room = MAX_NAME_CHARS - prefix.length;
  const clean = sanitize(jti);
  if (clean === jti && clean.length <= room) return prefix + clean;
  const tag = sha256Base64url(jti).slice(0, 8);
  return `${prefix}${clean.slice(0, room - tag.length - 1)}.${tag}`;
}

/**
 * STS's answer split for SPEC §4 and issue 11 §7: the agent is told STS's error code only; the
 * message (it names the broker's IAM principal, account and policy sizes) goes to the record and log.
 */
function stsDenial(err: unknown): Denial {
  const e = err as { Code?: unknown; name?: unknown; message?: unknown } | null;
  // The SDK renames modelled errors (`PackedPolicyTooLargeException`); `Code` keeps STS's own code.
  const code = typeof e?.Code === 'string' && e.Code !== '' ? e.Code : typeof e?.name === 'string' && e.name !== '' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // STS error text never holds our credentials (the secret is never sent); still, one clean line.
  const clean = (text: string) => text.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, MAX_DETAIL_CHARS);
  return new Denial('mint_failed', `STS answered ${clean(code).slice(0, 64)}`, undefined, clean(`${code}: ${message}`));
}

export class AwsMinter {
  readonly #sts: STSClient;
  readonly #brokerId: string;
  readonly #mode: 'per_scope' | 'per_certificate';
  readonly #clock: Clock;
  readonly #cache: LRUCache<string, AwsCredentials>;
  /** Concurrent misses for one key share one STS call instead of a stampede of AssumeRoles. */
  readonly #inFlight = new Map<string, Promise<AwsCredentials>>();

  constructor(options: AwsMinterOptions) {
    this.#brokerId = options.brokerId;
    this.#mode = options.mode;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#cache = new LRUCache({ max: options.maxEntries ?? DEFAULT_MAX_ENTRIES });
    const { credentials } = options;
    this.#sts = new STSClient({
      endpoint: options.endpoint.origin,
      region: options.endpoint.signingRegion,
      ...(credentials === 'default'
        ? {}
        : { credentials: { accessKeyId: credentials.access_key_id, secretAccessKey: credentials.secret_access_key } }),
      // No SDK retries: the agent's request is waiting, and a retry storm against a throttling STS
      // makes it worse. The broker fails closed (mint_failed, 503) and the client retries itself.
      maxAttempts: 1,
      // The handler's own bounds back up the clock's (#assumeRole) at the socket.
      requestHandler: new NodeHttpHandler({
        connectionTimeout: STS_TIMEOUT_MS,
        requestTimeout: STS_TIMEOUT_MS,
        throwOnRequestTimeout: true,
      }),
    });
  }

  /**
   * Credentials for `req`'s role restricted by `req.policy`. per_scope: cached by (role, policy,
   * sub, external id) until 60 s before expiry. per_certificate: the jti joins the key, so no
   * identity is shared across certificates. Throws Denial('mint_failed') on any STS failure.
   */
  async mint(req: MintRequest): Promise<MintResult> {
    const digest = policyDigest(req.policy);
    const perCertificate = this.#mode === 'per_certificate';
    const key = JSON.stringify([perCertificate ? req.jti : null, req.roleArn, digest, req.sub, req.externalId ?? null]);
    const hit = this.#cache.get(key);
    if (hit) {
      if (this.#clock.now() < hit.expiration.getTime() - EXPIRY_MARGIN_MS) return { credentials: hit, cached: true };
      this.#cache.delete(key);
    }
    const pending = this.#inFlight.get(key);
    if (pending) return { credentials: await pending, cached: true };
    const minting = this.#assumeRole(req, digest, perCertificate);
    this.#inFlight.set(key, minting);
    try {
      const credentials = await minting;
      this.#cache.set(key, credentials);
      return { credentials, cached: false };
    } finally {
      // Also on failure: a failed mint is never cached, the next request tries STS again.
      this.#inFlight.delete(key);
    }
  }

  /** Closes the STS client's sockets (shutdown, tests). */
  close(): void {
    this.#sts.destroy();
  }

  async #assumeRole(req: MintRequest, digest: string, perCertificate: boolean): Promise<AwsCredentials> {
    const input: AssumeRoleCommandInput = {
      RoleArn: req.roleArn,
      RoleSessionName: roleSessionName(this.#brokerId, digest, perCertificate ? req.jti : null),
      Policy: req.policy,
      DurationSeconds: DURATION_SECONDS,
      SourceIdentity: sourceIdentity(req.sub),
      ...(req.externalId !== undefined ? { ExternalId: req.externalId } : {}),
      ...(perCertificate ? { Tags: [{ Key: CERTIFICATE_TAG, Value: req.jti }] } : {}),
    };
    let out;
    const bound = new AbortController();
    const cancel = after(this.#clock, STS_TIMEOUT_MS, () => bound.abort(new DOMException(`STS did not answer within ${STS_TIMEOUT_MS} ms`, 'TimeoutError')));
    try {
      out = await this.#sts.send(new AssumeRoleCommand(input), { abortSignal: bound.signal });
    } catch (err) {
      throw stsDenial(err);
    } finally {
      cancel();
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !(c.Expiration instanceof Date)) {
      throw new Denial('mint_failed', 'STS returned no complete credentials');
    }
    return Object.freeze({
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration,
    });
  }
}
