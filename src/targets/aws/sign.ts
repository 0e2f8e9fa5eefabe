/**
 * SigV4 re-signing of a certified request with the minted identity (SPEC §3, reference/aws.md §4).
 * The header set starts empty: nothing the client sent (its signature, token, certificate,
 * X-Forwarded-*) can ride along unless the caller passes it as a certified semantic or checked
 * integrity header.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import type { AwsCredentials } from '../../identity/types.js';
import type { Endpoint } from './types.js';

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

interface Signers {
  /** Everything but S3: the signer escapes the once-encoded wire path a second time, as SigV4 wants. */
  escaping?: SignatureV4;
  /** S3 signs the exact encoded path on the wire (reference/aws.md §4.7). */
  verbatim?: SignatureV4;
}

/**
 * Signers per minted identity: building one per request would redo the credential validation and
 * lose its signing-key cache (one HMAC chain per day, region and service). Keyed weakly so expired
 * identities dropped from the minter's cache are collected with their signers.
 */
const signersByCredentials = new WeakMap<AwsCredentials, Signers>();
const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

/** Host header per endpoint, parsed once instead of a URL parse per request. */
const hostByEndpoint = new WeakMap<Endpoint, string>();

function signerFor(credentials: AwsCredentials, endpoint: Endpoint, uriEscapePath: boolean): SignatureV4 {
  let signers = signersByCredentials.get(credentials);
  if (!signers) signersByCredentials.set(credentials, (signers = {}));
  const slot = uriEscapePath ? 'escaping' : 'verbatim';
  let signer = signers[slot];
  if (!signer) {
    signer = new SignatureV4({
      credentials: {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
      },
      // Service and region are passed on every sign() call; these are only the constructor's defaults.
      service: endpoint.signingService,
      region: endpoint.signingRegion,
      sha256: Hash.bind(null, 'sha256'),
      uriEscapePath,
      // The payload hash is always given (x-amz-content-sha256); never let the signer hash or guess.
      applyChecksum: false,
    });
    signers[slot] = signer;
  }
  return signer;
}

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
export async function signUpstream(input: SignInput): Promise<SignedRequest> {
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

  const signed = await signHeaders(
    {
      method: input.method,
      protocol: endpoint.origin.startsWith('https:') ? 'https:' : 'http:',
      hostname: headers['host'],
      path: input.path,
      // smithy encodes the decoded map canonically (reference/aws.md §4.7).
      query: { ...input.query },
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
export interface Signable {
  readonly method: string;
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/**
 * The SigV4 signature over exactly `request.headers` plus X-Amz-Date (and X-Amz-Security-Token
 * when the identity has one): no header is added or dropped here. Kept apart from signUpstream so
 * AWS's own test vectors, whose header sets are not the broker's, run through the same signer
 * (test/targets/aws/sigv4-test-suite.test.ts). Returns the complete header set to send.
 */
export async function signHeaders(
  request: Signable,
  credentials: AwsCredentials,
  endpoint: Endpoint,
  uriEscapePath: boolean,
  now: Date,
): Promise<Record<string, string>> {
  const signed = await signerFor(credentials, endpoint, uriEscapePath).sign(request, {
    signingDate: now,
    signingService: endpoint.signingService,
    signingRegion: endpoint.signingRegion,
  });
  return { ...signed.headers };
}
