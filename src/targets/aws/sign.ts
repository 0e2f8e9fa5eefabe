/**
 * SigV4 re-signing of a certified request with the minted identity (SPEC §3, reference/aws.md §4).
 * The header set starts empty: nothing the client sent (its signature, token, certificate,
 * X-Forwarded-*) can ride along unless the caller passes it as a certified semantic or checked
 * integrity header.
 */
import type { AwsCredentials } from '../../identity/types.js';
import { signSigV4, type SigV4Request } from './sigv4.js';
import type { Endpoint } from '../../identity/types.js';

export interface SignInput {
  /** The service the request was resolved to (decides the path-escaping rule). */
  readonly service: string;
  readonly method: string;
  /** The path exactly as on the wire (percent-encoded). */
  readonly path: string;
  /** The decoded query, as parseQuery returns it (`?uploads` is `{ uploads: '' }`). */
  readonly query: Readonly<Record<string, string>>;
  /** The query string exactly as on the wire, without `?`; `''` for none. */
  readonly rawQuery: string;
  /** Semantic and checked integrity headers to forward, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Buffer;
  /** Hex SHA-256 of the payload: the certified hash, or the body's own under `any` (SPEC §3). */
  readonly payloadHash: string;
  readonly endpoint: Endpoint;
  readonly credentials: AwsCredentials;
  readonly now?: Date;
}

export interface SignedRequest {
  readonly url: string;
  readonly origin: string;
  /** Path and query exactly as signed: never through a URL parser, which folds `..` segments. */
  readonly target: string;
  readonly headers: Record<string, string>;
}


const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

/** Host header per endpoint, parsed once instead of a URL parse per request. */
const hostByEndpoint = new WeakMap<Endpoint, string>();

function hostOf(endpoint: Endpoint): string {
  let host = hostByEndpoint.get(endpoint);
  if (host === undefined) {
    host = new URL(endpoint.origin).host;
    hostByEndpoint.set(endpoint, host);
  }
  return host;
}

/**
 * Signs the request for `endpoint` with `credentials` and returns the URL and the complete header
 * set to send. The URL carries the exact path and query bytes the broker parsed: re-encoding or
 * normalising them here would forward something other than what was matched (SPEC §2.1).
 */
export function signUpstream(input: SignInput): SignedRequest {
  const { endpoint, credentials } = input;
  // Null prototype: a header named `__proto__` must stay a header, not vanish into the prototype.
  const headers: Record<string, string> = Object.create(null);
  for (const name of Object.keys(input.headers)) headers[name.toLowerCase()] = input.headers[name] as string;
  // The broker's own transport and identity headers win over anything passed in.
  headers['host'] = hostOf(endpoint);
  // An empty GET, HEAD, DELETE or OPTIONS goes without Content-Length, as AWS's own clients send
  // it (RFC 9110 §8.6: no Content-Length when the method anticipates no content). moto, for one,
  // rejects the signature of a GET that signs `content-length: 0`.
  if (input.payload.length > 0 || !BODYLESS_METHODS.has(input.method)) headers['content-length'] = String(input.payload.length);
  headers['x-amz-content-sha256'] = input.payloadHash;
  headers['x-amz-security-token'] = credentials.sessionToken;

  const signed = signHeaders(
    {
      method: input.method,
      path: input.path,
      // The decoded map, encoded canonically by the signer (reference/aws.md §4.7).
      query: input.query,
      headers,
      body: input.payload,
    },
    credentials,
    endpoint,
    input.service !== 's3',
    input.now ?? new Date(),
  );
  const target = input.path + (input.rawQuery === '' ? '' : `?${input.rawQuery}`);
  return { url: endpoint.origin + target, origin: endpoint.origin, target, headers: signed };
}

/** A request as the signer reads it: the wire path, the decoded query, the exact header set. */
export type Signable = SigV4Request;

/**
 * The SigV4 signature over exactly `request.headers` plus X-Amz-Date (and X-Amz-Security-Token
 * when the identity has one): no header is added or dropped here. Kept apart from signUpstream so
 * AWS's own test vectors, whose header sets are not the broker's, run through the same signer
 * (test/targets/aws/sigv4-test-suite.test.ts). Returns the complete header set to send.
 */
export function signHeaders(request: Signable, credentials: AwsCredentials, endpoint: Endpoint, uriEscapePath: boolean, now: Date): Record<string, string> {
  return signSigV4(request, credentials, { region: endpoint.signingRegion, service: endpoint.signingService, uriEscapePath, now });
}
