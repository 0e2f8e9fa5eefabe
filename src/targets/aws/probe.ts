/**
 * AWS live-state drift (SPEC §2.1 pre_state), the I/O half: sends a planned probe (drift.ts) as
 * the read executor, with an identity minted for exactly that probe, signed with SigV4 for the
 * endpoint from the broker's own table, through the broker's pooled dispatcher. A probe that
 * cannot be sent or answered is a denial, never a pass.
 */
import type { Dispatcher } from 'undici';
import { Denial } from '../../reasons.js';
import type { AwsExecutor } from '../../config/types.js';
import type { AwsMinter } from '../../identity/aws-minter.js';
import { policyDigest, sessionPolicy } from '../../identity/session-policy.js';
import { sha256Hex } from '../../lib/digest.js';
import { resolveEndpoint } from './endpoints.js';
import { signUpstream } from './sign.js';
import type { ProbeAnswer, ProbePlan } from './drift.js';

/**
 * Bound on one probe, below any sane `limits.request_timeout`: the agent's request waits on it, and
 * a probe that cannot answer promptly fails closed like a mint that cannot (identity/aws-minter.ts).
 */
const PROBE_TIMEOUT_MS = 5_000;
/** HeadObject and HeadBucket answer no body and DescribeTable a few KiB; more is not a probe answer. */
const MAX_ANSWER_BYTES = 1 << 20;

export interface ProbeDeps {
  readonly minter: AwsMinter;
  readonly dispatcher: Dispatcher;
  /** `aws.endpoints`: the same overrides the forwarded request is sent by. */
  readonly endpoints: Readonly<Record<string, string>>;
  /** `read_executor`'s AWS profile (SPEC §2.1: pre_state is checked under the read executor). */
  readonly reader: AwsExecutor;
  /** `limits.request_timeout` in milliseconds; the probe takes the smaller of it and PROBE_TIMEOUT_MS. */
  readonly timeoutMs: number;
}

export interface ProbeResult {
  readonly answer: ProbeAnswer;
  /** For the decision record: who probed, under which session policy (never the secret). */
  readonly identity: Readonly<Record<string, unknown>>;
  /** The mint was served from the credential cache (for `seb_mint_cache_total`). */
  readonly cached: boolean;
}

/**
 * Mints the read executor's identity for exactly `plan.permissions`, then sends the probe. `sub`
 * and `jti` are the certificate's, so CloudTrail attributes the probe to it (SPEC §5).
 * Throws Denial('mint_failed') when STS refuses, Denial('drift') when the probe fails.
 */
export async function sendProbe(deps: ProbeDeps, plan: ProbePlan, sub: string, jti: string): Promise<ProbeResult> {
  const { reader } = deps;
  const { request } = plan;
  const policy = sessionPolicy(plan.permissions);
  const minted = await deps.minter.mint({
    roleArn: reader.role_arn,
    ...(reader.external_id ? { externalId: reader.external_id } : {}),
    policy,
    sub,
    jti,
  });
  const identity = {
    role_arn: reader.role_arn,
    access_key_id: minted.credentials.accessKeyId,
    policy_sha256: policyDigest(policy),
    cached: minted.cached,
  };
  const endpoint = resolveEndpoint(request.service, request.region, deps.endpoints);
  const signed = signUpstream({
    service: request.service,
    method: request.method,
    path: request.path,
    query: {},
    rawQuery: '',
    headers: request.headers,
    payload: request.body,
    payloadHash: sha256Hex(request.body),
    endpoint,
    credentials: minted.credentials,
  });
  const timeoutMs = Math.min(PROBE_TIMEOUT_MS, deps.timeoutMs);
  try {
    const answer = await deps.dispatcher.request({
      // Origin and path as signed: a URL parse would normalise dot segments in an S3 key.
      origin: endpoint.origin,
      path: request.path,
      method: request.method,
      headers: signed.headers,
      body: request.body.length ? request.body : null,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await readBounded(answer.body);
    return { answer: { status: answer.statusCode, headers: flatHeaders(answer.headers), body }, identity, cached: minted.cached };
  } catch (err) {
    if (err instanceof Denial) throw err;
    // The connection's error text names the endpoint's address: the record and the log get it, the agent not.
    throw new Denial('drift', 'the probe failed', undefined, err instanceof Error ? err.message : String(err));
  }
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      body.destroy();
      throw new Denial('drift', `the probe answer is over ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** One value per header; a repeated one reads as absent (a doubled ETag is no usable ETag). */
function flatHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = Object.create(null);
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? undefined : value;
  return out;
}
