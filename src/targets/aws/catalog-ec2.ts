/**
 * EC2 operations whose resources the broker derives precisely (reference/aws.md §1 "Resource
 * ARNs"). Input is the ec2-protocol form: lists arrive as `Name.1`, `Name.2`, ...
 */
import { unparseable } from '../../reasons.js';
import { ACCOUNT, arnPartition } from './arn.js';
import type { Describer, Scope } from './catalog-describer.js';
import type { Permission } from './types.js';

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const IMAGE_ID = /^ami-[0-9a-f]{8,17}$/;
const INSTANCE_STATE_OPS = new Set(['TerminateInstances', 'StopInstances', 'StartInstances', 'RebootInstances']);
// Resource types RunInstances always touches (an instance, its root volume and network interface in
// a subnet with a security group), as IAM checks them: each `arn:...:<type>/*` in the account.
const RUN_TYPES = ['instance', 'volume', 'network-interface', 'subnet', 'security-group'] as const;
// TagSpecification resource types RunInstances accepts; each needs ec2:CreateTags on its ARN type.
const TAGGABLE = new Set(['instance', 'volume', 'network-interface', 'spot-instances-request', 'elastic-gpu']);

export const describeEc2: Describer = (operation, region, input) => {
  const form = input as Readonly<Record<string, string>>;
  if (INSTANCE_STATE_OPS.has(operation)) return instanceStateScope(operation, region, form);
  if (operation === 'RunInstances') return runInstancesScope(region, form);
  return undefined;
};

function ec2Arn(region: string | null, account: string, resource: string): string {
  return `arn:${arnPartition(region)}:ec2:${region ?? ''}:${account}:${resource}`;
}

function instanceStateScope(operation: string, region: string | null, form: Readonly<Record<string, string>>): Scope {
  const ids = indexedList(form, 'InstanceId');
  if (ids.length === 0) throw unparseable(`${operation} names no InstanceId`);
  const permissions = ids.map((id) => {
    if (!INSTANCE_ID.test(id)) throw unparseable('an InstanceId is not an instance id');
    return { action: `ec2:${operation}`, resource: ec2Arn(region, ACCOUNT, `instance/${id}`) };
  });
  return { resource: permissions.length === 1 ? permissions[0]!.resource : '*', permissions };
}

function runInstancesScope(region: string | null, form: Readonly<Record<string, string>>): Scope {
  const names = Object.keys(form);
  // The instance profile's role needs iam:PassRole, and which role that is cannot be read from the
  // request (it names a profile, not a role): refused rather than granting PassRole on `*`.
  if (names.some((n) => n.startsWith('IamInstanceProfile.'))) {
    throw unparseable('RunInstances with IamInstanceProfile needs iam:PassRole on a role the broker cannot derive');
  }
  const action = 'ec2:RunInstances';
  const permissions: Permission[] = RUN_TYPES.map((type) => ({ action, resource: ec2Arn(region, ACCOUNT, `${type}/*`) }));
  const imageId = form['ImageId'];
  const launchTemplate = names.some((n) => n.startsWith('LaunchTemplate.'));
  if (imageId !== undefined) {
    if (!IMAGE_ID.test(imageId)) throw unparseable('ImageId is not an AMI id');
    // Public and shared AMIs live in other accounts: image ARNs carry no account.
    permissions.push({ action, resource: ec2Arn(region, '', `image/${imageId}`) });
  } else if (launchTemplate) {
    permissions.push({ action, resource: ec2Arn(region, '', 'image/*') });
  } else {
    throw unparseable('RunInstances names neither ImageId nor LaunchTemplate');
  }
  if (launchTemplate) permissions.push({ action, resource: ec2Arn(region, ACCOUNT, 'launch-template/*') });
  if (form['KeyName'] !== undefined) permissions.push({ action, resource: ec2Arn(region, ACCOUNT, 'key-pair/*') });
  for (const type of tagSpecificationTypes(form)) {
    permissions.push({ action: 'ec2:CreateTags', resource: ec2Arn(region, ACCOUNT, `${type}/*`) });
  }
  return { resource: '*', permissions };
}

function tagSpecificationTypes(form: Readonly<Record<string, string>>): Set<string> {
  const types = new Set<string>();
  const indexes = new Set<string>();
  for (const name of Object.keys(form)) {
    const m = /^TagSpecification\.([^.]+)\./.exec(name);
    if (m) indexes.add(m[1]!);
    else if (name.startsWith('TagSpecification')) throw unparseable(`form field ${name} is malformed`);
  }
  for (const index of indexes) {
    const type = form[`TagSpecification.${index}.ResourceType`];
    if (type === undefined || !TAGGABLE.has(type)) {
      throw unparseable('each TagSpecification needs a ResourceType RunInstances can tag');
    }
    types.add(type);
  }
  return types;
}

/**
 * The values of `Name.1` ... `Name.n`, in order. Gaps, leading zeros and deeper keys are refused:
 * an upstream could read such a list another way.
 */
export function indexedList(form: Readonly<Record<string, string>>, name: string): string[] {
  const values: string[] = [];
  const prefix = `${name}.`;
  const byIndex = new Map<number, string>();
  for (const key of Object.keys(form)) {
    if (!key.startsWith(prefix)) continue;
    const index = key.slice(prefix.length);
    if (!/^[1-9]\d{0,4}$/.test(index)) throw unparseable(`form field ${key} is not a list member`);
    byIndex.set(Number(index), form[key]!);
  }
  for (let i = 1; i <= byIndex.size; i++) {
    const value = byIndex.get(i);
    if (value === undefined) throw unparseable(`the ${name} list has a gap`);
    values.push(value);
  }
  return values;
}
