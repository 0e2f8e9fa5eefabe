/**
 * What each AWS operation the broker reads needs from IAM (SPEC §2.1: "the IAM actions the
 * session policy allows are derived from [the operation] by the broker's own table, together with
 * the extra resources the pinned request names"), whether it is a read (SPEC §7), and whether it
 * would hand credentials or secrets to the agent (SPEC §4 `credential_vending`).
 *
 * Resources in `permissions` use `*` only as a deliberate whole-segment wildcard (`instance/*`):
 * every name taken from a request is checked against the service's own name pattern first, and
 * none of those patterns admits `*` or `?`.
 */
import reads from './data/reads.json' with { type: 'json' };
import { describeDynamodb } from './catalog-dynamodb.js';
import { describeEc2 } from './catalog-ec2.js';
import { describeIam, describeSts } from './catalog-iam.js';
import type { Describer, Scope } from './catalog-describer.js';
import { anyResourceScope } from './iam-actions.js';


const DESCRIBERS: Readonly<Record<string, Describer>> = {
  ec2: describeEc2,
  iam: describeIam,
  sts: describeSts,
  dynamodb: describeDynamodb,
};

/** The scope of a query or json request: the service's model, else the action on `*`. */
export function scopeOf(
  service: string,
  region: string | null,
  operation: string,
  input: Readonly<Record<string, unknown>>,
): Scope {
  const described = DESCRIBERS[service]?.(operation, region, input);
  return described ?? anyResourceScope(service, operation);
}

const READS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries(reads.reads as Record<string, string[]>).map(([service, ops]) => [service, new Set(ops)]),
);

/** On the shipped read allow-list (SPEC §7); everything else is a mutation. */
export function isRead(service: string, operation: string): boolean {
  return READS.get(service)?.has(operation) === true;
}

/** The shipped read allow-list, per signing name (for the README). */
export function readAllowList(): Readonly<Record<string, readonly string[]>> {
  return reads.reads;
}

/**
 * Operations named like reads that are not, because their answer can hold a secret (SPEC §7: a
 * member the model marks `sensitive`, or a presigned URL, token or user data the generator's
 * curated list names), with the output paths that hold it. They need a certificate. Making them
 * mutations is exact; removing members from a body would need a rewriter per protocol.
 */
export function secretOutputReads(): Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> {
  return reads.secretOutputs;
}

const NO_HEADERS: ReadonlySet<string> = new Set();
const REDACT: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries(reads.redactHeaders as Record<string, Record<string, string[]>>).flatMap(([service, ops]) =>
    Object.entries(ops).map(([op, headers]) => [`${service}:${op}`, new Set(headers)] as const),
  ),
);

/**
 * Response headers (lower-case) a read's answer must not pass on: the reads whose only `sensitive`
 * output members are top-level headers (S3's KMS key id) stay reads, and the broker drops exactly
 * those headers (SPEC §7). Empty for every other operation.
 */
export function redactedHeaders(service: string, operation: string): ReadonlySet<string> {
  return REDACT.get(`${service}:${operation}`) ?? NO_HEADERS;
}

/**
 * Operations that hand credentials or secrets to the caller (SPEC §4): denied
 * `credential_vending` unless `aws.allow_credential_vending` names them, and never reads.
 */
export const CREDENTIAL_VENDING: readonly { service: string; operation: string; why: string }[] = [
  { service: 'sts', operation: 'AssumeRole', why: 'returns temporary credentials' },
  { service: 'sts', operation: 'AssumeRoleWithSAML', why: 'returns temporary credentials' },
  { service: 'sts', operation: 'AssumeRoleWithWebIdentity', why: 'returns temporary credentials' },
  { service: 'sts', operation: 'AssumeRoot', why: 'returns temporary root credentials' },
  { service: 'sts', operation: 'GetSessionToken', why: 'returns temporary credentials' },
  { service: 'sts', operation: 'GetFederationToken', why: 'returns temporary credentials' },
  { service: 'sts', operation: 'GetDelegatedAccessToken', why: 'returns an access token' },
  { service: 'sts', operation: 'GetWebIdentityToken', why: 'returns a web identity token usable to assume roles' },
  { service: 'iam', operation: 'CreateAccessKey', why: 'returns a long-term secret access key' },
  { service: 'iam', operation: 'CreateLoginProfile', why: 'sets a console password the caller chose' },
  { service: 'iam', operation: 'UpdateLoginProfile', why: 'sets a console password the caller chose' },
  { service: 'iam', operation: 'CreateServiceSpecificCredential', why: 'returns a service password' },
  { service: 'iam', operation: 'ResetServiceSpecificCredential', why: 'returns a new service password' },
  { service: 'iam', operation: 'UploadSSHPublicKey', why: 'registers a key the caller holds (CodeCommit access)' },
  { service: 'ecr', operation: 'GetAuthorizationToken', why: 'returns a registry password' },
  { service: 'ecr-public', operation: 'GetAuthorizationToken', why: 'returns a registry password' },
  { service: 'secretsmanager', operation: 'GetSecretValue', why: 'returns a secret' },
  { service: 'secretsmanager', operation: 'BatchGetSecretValue', why: 'returns secrets' },
  { service: 'ssm', operation: 'GetParameter', why: 'may return a decrypted SecureString' },
  { service: 'ssm', operation: 'GetParameters', why: 'may return decrypted SecureStrings' },
  { service: 'ssm', operation: 'GetParametersByPath', why: 'may return decrypted SecureStrings' },
  { service: 'ssm', operation: 'GetParameterHistory', why: 'may return decrypted SecureStrings' },
  { service: 'ssm', operation: 'GetAccessToken', why: 'returns an access token' },
  { service: 'kms', operation: 'Decrypt', why: 'returns plaintext' },
  { service: 'kms', operation: 'GenerateDataKey', why: 'returns a plaintext data key' },
  { service: 'kms', operation: 'GenerateDataKeyPair', why: 'returns a plaintext private key' },
  { service: 'kms', operation: 'GenerateDataKeyWithoutPlaintext', why: 'a data key (GenerateDataKey*: the safer reading)' },
  { service: 'kms', operation: 'GenerateDataKeyPairWithoutPlaintext', why: 'a key pair (GenerateDataKey*: the safer reading)' },
  { service: 'kms', operation: 'DeriveSharedSecret', why: 'returns a shared secret' },
  { service: 'ec2', operation: 'CreateKeyPair', why: 'returns an SSH private key' },
  { service: 'ec2', operation: 'GetPasswordData', why: 'returns an instance administrator password' },
  { service: 'cognito-identity', operation: 'GetCredentialsForIdentity', why: 'returns temporary credentials' },
  { service: 'cognito-identity', operation: 'GetOpenIdTokenForDeveloperIdentity', why: 'returns a token usable to assume roles' },
  { service: 'awsssoportal', operation: 'GetRoleCredentials', why: 'returns temporary credentials (sso; rest-json, not served)' },
  { service: 'redshift', operation: 'GetClusterCredentials', why: 'returns a database password' },
  { service: 'redshift', operation: 'GetClusterCredentialsWithIAM', why: 'returns a database password' },
];

const VENDING = new Set(CREDENTIAL_VENDING.map((v) => `${v.service}:${v.operation}`));

export function isCredentialVending(service: string, operation: string): boolean {
  return VENDING.has(`${service}:${operation}`);
}
