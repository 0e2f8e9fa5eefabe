/**
 * IAM and STS operations whose resources the broker derives precisely (reference/aws.md §1: role
 * ARNs are `arn:aws:iam::A:role{Path}{RoleName}`). IAM is global: its ARNs have no region.
 */
import { unparseable } from '../../reasons.js';
import { ACCOUNT } from './arn.js';
import { stringField, type Describer, type Scope } from './catalog-describer.js';
import type { Permission } from './types.js';

// The IAM API's own name patterns (botocore `roleNameType`, `userNameType`, `policyNameType`):
// none admits `*` or `?`, so a name can never widen the session policy.
const ENTITY_NAME = /^[\w+=,.@-]{1,64}$/;
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
// `/` or `/.../` of printable ASCII (botocore `pathType`), minus the two ARN wildcards.
const PATH = /^\/(?:[\x21-\x29\x2b-\x3e\x40-\x7e]{1,510}\/)?$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\x21-\x29\x2b-\x3e\x40-\x7e]*\/)?[\w+=,.@-]{1,64}$/;

// Operations on a role named by RoleName (the path is not in the request: `/` is assumed, so a
// role under another path is denied by IAM, which fails closed).
const ROLE_OPS = new Set([
  'CreateRole', 'DeleteRole', 'GetRole', 'UpdateRole', 'UpdateRoleDescription', 'UpdateAssumeRolePolicy',
  'PutRolePolicy', 'DeleteRolePolicy', 'GetRolePolicy', 'ListRolePolicies',
  'AttachRolePolicy', 'DetachRolePolicy', 'ListAttachedRolePolicies',
  'TagRole', 'UntagRole', 'ListRoleTags', 'PutRolePermissionsBoundary', 'DeleteRolePermissionsBoundary',
]);
const USER_OPS = new Set([
  'CreateUser', 'DeleteUser', 'GetUser', 'TagUser', 'UntagUser',
  'PutUserPolicy', 'DeleteUserPolicy', 'AttachUserPolicy', 'DetachUserPolicy',
  'CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile', 'DeleteLoginProfile',
  'CreateServiceSpecificCredential', 'ResetServiceSpecificCredential',
]);
const PATH_OPS = new Set(['CreateRole', 'CreateUser', 'CreatePolicy']);
// Operations that take tags also need the tagging action on the new entity.
const TAG_ACTION: Readonly<Record<string, string>> = {
  CreateRole: 'iam:TagRole',
  CreateUser: 'iam:TagUser',
  CreatePolicy: 'iam:TagPolicy',
};

export const describeIam: Describer = (operation, _region, input) => {
  if (ROLE_OPS.has(operation)) return entityScope(operation, input, 'role', 'RoleName');
  if (USER_OPS.has(operation)) {
    // Without UserName these act on the caller itself: no ARN to derive, the generic rule applies.
    if (operation !== 'CreateUser' && stringField(input, 'UserName') === undefined) return undefined;
    return entityScope(operation, input, 'user', 'UserName');
  }
  if (operation === 'CreatePolicy') return entityScope(operation, input, 'policy', 'PolicyName');
  return undefined;
};

function entityScope(operation: string, input: Readonly<Record<string, unknown>>, type: string, nameField: string): Scope {
  const name = stringField(input, nameField);
  if (name === undefined || !(type === 'policy' ? POLICY_NAME : ENTITY_NAME).test(name)) {
    throw unparseable(`${operation} needs a valid ${nameField}`);
  }
  // Only these carry a Path; the others address the entity by name alone.
  const path = PATH_OPS.has(operation) ? (stringField(input, 'Path') ?? '/') : '/';
  if (!PATH.test(path)) throw unparseable(`${operation} has an invalid Path`);
  const resource = `arn:aws:iam::${ACCOUNT}:${type}${path}${name}`;
  const permissions: Permission[] = [{ action: `iam:${operation}`, resource }];
  const tagAction = TAG_ACTION[operation];
  if (tagAction && Object.keys(input).some((k) => k.startsWith('Tags.'))) permissions.push({ action: tagAction, resource });
  if (operation === 'CreateRole' && stringField(input, 'PermissionsBoundary') !== undefined) {
    permissions.push({ action: 'iam:PutRolePermissionsBoundary', resource });
  }
  return { resource, permissions };
}

export const describeSts: Describer = (operation, _region, input) => {
  if (operation !== 'AssumeRole') return undefined;
  const roleArn = stringField(input, 'RoleArn');
  if (roleArn === undefined || !ROLE_ARN.test(roleArn)) throw unparseable('AssumeRole needs a valid RoleArn');
  return { resource: roleArn, permissions: [{ action: 'sts:AssumeRole', resource: roleArn }] };
};
