/**
 * ARN templates (types.ts `ArnTemplate`): the account field may be the literal `{account}`,
 * because derived ARNs carry the executor role's account (SPEC §2.1), which is known only once the
 * certificate names its execution identity.
 */
import { partitionOf } from './services.js';

export const ACCOUNT = '{account}';

/** Fills the account field (index 4) when, and only when, it is exactly `{account}`. */
export function resolveArn(template: string, account: string): string {
  const fields = template.split(':');
  if (fields.length < 6 || fields[0] !== 'arn' || fields[4] !== ACCOUNT) return template;
  fields[4] = account;
  return fields.join(':');
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]+$/;

/** The account of an IAM role ARN (an executor's `role_arn`). Throws on anything else. */
export function accountOfRoleArn(roleArn: string): string {
  const m = ROLE_ARN.exec(roleArn);
  if (!m) throw new TypeError(`not an IAM role ARN: ${roleArn}`);
  return m[1]!;
}

/** The ARN partition (`aws`, `aws-cn`, `aws-us-gov`, ...) of a region; `aws` for global (null). */
export function arnPartition(region: string | null): string {
  return region === null ? 'aws' : partitionOf(region).id;
}

/**
 * IAM reads `*`, `?` and `${...}` inside a policy Resource as wildcards and variables. A name the
 * agent chose (an S3 key may hold any character) must match only itself, so it is written with
 * IAM's escapes `${*}`, `${?}` and `${$}`. The catalog's own wildcards (`instance/*`) stay as they are.
 */
export function iamLiteral(name: string): string {
  return name.replace(/[*?$]/g, (c) => '${' + c + '}');
}
