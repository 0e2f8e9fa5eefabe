/**
 * The last phase of an AWS request (targets/target.ts AdmittedRequest): its session is minted, so it
 * is signed (SigV4) for upstream, and its answer is read for the outcome record.
 */
import { Denial } from '../../reasons.js';
import type { AwsCredentials } from '../../identity/types.js';
import { sha256Hex } from '../../lib/digest.js';
import { canonicalJson } from '../../lib/jcs.js';
import type { AdmittedRequest, TunnelRequest, UpstreamRequest } from '../target.js';
import { resolveEndpoint } from './endpoints.js';
import { parseQuery } from './query-string.js';
import { signUpstream } from './sign.js';
import { redactedHeaders } from './catalog.js';
import { AwsRead, type AwsProfile } from './request-view.js';

/** A request with its session minted: signed for upstream. */
export class AwsMinted extends AwsRead implements AdmittedRequest<AwsProfile> {
  constructor(
    read: AwsRead,
    /** Conditional headers from the drift probe (drift.ts), or NO_GUARD. */
    readonly guard: Readonly<Record<string, string>>,
    readonly credentials: AwsCredentials,
    readonly identityFields: Record<string, unknown>,
  ) {
    super(read.c, read.head, read.operation, read.kind, read.body);
  }

  override identityRecord(): Record<string, unknown> {
    return this.identityFields;
  }

  async prepare(): Promise<UpstreamRequest> {
    const { head } = this;
    const { operation, body } = this;
    const endpoint = resolveEndpoint(operation.service, operation.region, this.c.endpoints, operation.upstream);
    const payloadHash = sha256Hex(body.payload);
    const upstream = signUpstream({
      service: operation.service,
      method: head.method,
      path: head.path,
      query: parseQuery(head.query),
      rawQuery: head.query,
      headers: { ...operation.headers, ...body.integrityHeaders, ...this.guard },
      payload: body.payload,
      payloadHash,
      endpoint,
      credentials: this.credentials,
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

  outcome(status: number, h: Readonly<Record<string, string | string[] | undefined>>): { upstreamRequestId: string | null; error: string | null } {
    return {
      upstreamRequestId: firstHeader(h['x-amz-request-id']) ?? firstHeader(h['x-amzn-requestid']) ?? null,
      // The guard's precondition failed: the pre_state changed between the probe and the forward.
      error: status === 412 && Object.keys(this.guard).length > 0 ? 'PreconditionFailed: pre_state no longer held upstream (changed after the drift probe)' : null,
    };
  }

  redactedHeaders(read: boolean): ReadonlySet<string> | null {
    // A certificate-free read never passes on a `sensitive` member (SPEC §7).
    return read ? redactedHeaders(this.operation.service, this.operation.operation) : null;
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
