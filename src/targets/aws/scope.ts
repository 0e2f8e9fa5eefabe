/**
 * The SigV4 credential scope of a request: which service and region the client asks for (SPEC
 * §2.1). The scope is the client's own claim (reference/aws.md §1), which is exactly what a
 * certificate pins; the broker re-signs, so it never trusts the client's signature itself.
 */
import { unparseable } from '../../reasons.js';
import type { AwsHttpRequest } from './types.js';

const ALGORITHM = 'AWS4-HMAC-SHA256 ';
const ACCESS_KEY = /^[A-Za-z0-9]{1,128}$/;
const DATE = /^\d{8}$/;
// The region becomes part of an upstream host name (endpoints.ts): a strict check is a security
// control, not a nicety.
export const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
// Signing names are lower case but one: IoT Secure Tunneling signs as `IoTSecuredTunneling`. The
// name is only ever looked up exactly in the broker's own table, so a case variant of another
// name (`S3`) is not served and is refused there.
const SERVICE = /^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$/;
// Lower-case header-name tokens (RFC 9110 tchar), `;`-separated.
const SIGNED_HEADERS = /^[a-z0-9!#$%&'*+.^_`|~-]+(;[a-z0-9!#$%&'*+.^_`|~-]+)*$/;
const SIGNATURE = /^[0-9a-f]{64}$/;

// Query auth (SigV4 presigned URLs and SigV2 query auth, reference/aws.md §1): refused outright
// (SPEC §2.1). Compared lower-cased so `x-amz-signature` cannot slip past.
const PRESIGN_NAMES = new Set([
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-signature',
  'x-amz-security-token',
  'x-amz-signedheaders',
  'x-amz-date',
  'x-amz-expires',
  'awsaccesskeyid',
  'signature',
]);

export interface CredentialScope {
  readonly service: string;
  readonly region: string;
}

/** Reads `Credential=AKID/DATE/REGION/SERVICE/aws4_request` from a SigV4 `Authorization` header. */
export function credentialScope(req: AwsHttpRequest): CredentialScope {
  refusePresigned(req.query);
  const auth = req.headers['authorization'];
  if (auth === undefined) {
    throw unparseable('no Authorization header: the broker reads the service from its SigV4 credential scope');
  }
  if (auth.startsWith('AWS4-ECDSA-P256-SHA256')) throw unparseable('SigV4a signatures are refused');
  if (!auth.startsWith(ALGORITHM)) throw unparseable('the Authorization header is not AWS4-HMAC-SHA256 (SigV2 and others are refused)');
  const parts = new Map<string, string>();
  for (const part of auth.slice(ALGORITHM.length).split(/, ?/)) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (eq === -1 || parts.has(name)) throw unparseable('the Authorization header is malformed');
    parts.set(name, part.slice(eq + 1));
  }
  const credential = parts.get('Credential');
  const signedHeaders = parts.get('SignedHeaders');
  const signature = parts.get('Signature');
  if (parts.size !== 3 || credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw unparseable('the Authorization header needs exactly Credential, SignedHeaders and Signature');
  }
  if (!SIGNED_HEADERS.test(signedHeaders) || !SIGNATURE.test(signature)) {
    throw unparseable('the Authorization header is malformed');
  }
  const fields = credential.split('/');
  if (
    fields.length !== 5 ||
    !ACCESS_KEY.test(fields[0]!) ||
    !DATE.test(fields[1]!) ||
    !SERVICE.test(fields[3]!) ||
    fields[4] !== 'aws4_request'
  ) {
    throw unparseable('the SigV4 credential scope is malformed');
  }
  if (!REGION.test(fields[2]!)) throw unparseable('the credential scope names an invalid region');
  return { service: fields[3]!, region: fields[2]! };
}

function refusePresigned(query: string): void {
  if (query === '') return;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const raw = eq === -1 ? pair : pair.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      throw unparseable('a query parameter name has a bad percent-escape');
    }
    if (PRESIGN_NAMES.has(raw.toLowerCase()) || PRESIGN_NAMES.has(name.toLowerCase())) {
      throw unparseable('presigned URLs are refused');
    }
  }
}
