// The IAM examples in k8s/iam/ (SPEC §5, §11): the broker may only assume executor roles, the
// executors trust only the broker, and the boundary keeps every executor from minting credentials.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { CERTIFICATE_TAG } from '../../src/identity/aws-minter.js';
import { K8S } from './render.js';

const IAM = join(K8S, 'iam');
const ACCOUNT = '111122223333';
const BROKER_ROLE = `arn:aws:iam::${ACCOUNT}:role/seb-broker`;
const EXECUTOR_ROLES = `arn:aws:iam::${ACCOUNT}:role/seb-exec-*`;

interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: Record<string, string | string[]>;
  readonly Action: string | string[];
  readonly Resource?: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}
interface Policy {
  readonly Version: string;
  readonly Statement: readonly Statement[];
}

const list = (v: string | readonly string[] | undefined): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : [...v]);
const load = (name: string): Policy => JSON.parse(readFileSync(join(IAM, name), 'utf8')) as Policy;

/** IAM's wildcard match of an action or ARN pattern (`*` any run, `?` one character), case as given. */
function wildcard(pattern: string, value: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(value);
}

t.test('every file is a policy document', async (t) => {
  const files = readdirSync(IAM).filter((f) => f.endsWith('.json')).sort();
  t.same(files, [
    'broker-role-policy.json',
    'broker-role-trust-irsa.json',
    'broker-role-trust-pod-identity.json',
    'executor-permission-boundary.json',
    'executor-s3-writer-policy.json',
    'executor-trust-policy.json',
  ]);
  for (const f of files) {
    const p = load(f);
    t.equal(p.Version, '2012-10-17', `${f}: version`);
    t.ok(p.Statement.length > 0 && p.Statement.every((s) => s.Effect === 'Allow' || s.Effect === 'Deny'), `${f}: statements`);
  }
});

t.test("the broker role's policy: only the three STS actions, only on executor roles", async (t) => {
  const policy = load('broker-role-policy.json');
  t.ok(policy.Statement.every((s) => s.Effect === 'Allow'));
  t.same([...new Set(policy.Statement.flatMap((s) => list(s.Action)))].sort(), ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']);
  t.ok(policy.Statement.every((s) => list(s.Resource).length === 1 && list(s.Resource)[0] === EXECUTOR_ROLES), 'on seb-exec-* roles only');
  t.notOk(policy.Statement.some((s) => 'NotAction' in s || 'NotResource' in s));
  const assume = policy.Statement.find((s) => list(s.Action).includes('sts:AssumeRole'))!;
  t.ok(assume.Condition?.['StringLike']?.['sts:SourceIdentity'], 'AssumeRole only with a source identity');
  const tag = policy.Statement.find((s) => list(s.Action).includes('sts:TagSession'))!;
  t.same(tag.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys'], [CERTIFICATE_TAG], 'the only session tag the minter sets');
  // Every executor role of the example seb.yaml is one the broker may assume.
  const cm = parse(readFileSync(join(K8S, 'agent', 'broker-config.yaml'), 'utf8')) as { data: Record<string, string> };
  const config = parseConfig(cm.data['seb.yaml']!, '/etc/seb');
  const roles = Object.values(config.executors).flatMap((e) => (e.aws ? [e.aws.role_arn] : []));
  t.ok(roles.length >= 2);
  for (const arn of roles) t.ok(wildcard(EXECUTOR_ROLES, arn), `${arn} is covered`);
  t.notOk(wildcard(EXECUTOR_ROLES, BROKER_ROLE), 'the broker cannot assume itself');
});

t.test('executor roles trust only the broker role', async (t) => {
  const trust = load('executor-trust-policy.json');
  const principals = trust.Statement.flatMap((s) => Object.entries(s.Principal ?? {}).flatMap(([kind, v]) => list(v).map((p) => `${kind}:${p}`)));
  t.same([...new Set(principals)], [`AWS:${BROKER_ROLE}`]);
  t.ok(trust.Statement.every((s) => s.Effect === 'Allow' && s.Principal));
  t.same([...new Set(trust.Statement.flatMap((s) => list(s.Action)))].sort(), ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']);
  const assume = trust.Statement.find((s) => list(s.Action).includes('sts:AssumeRole'))!;
  t.ok(assume.Condition?.['StringLike']?.['sts:SourceIdentity'], 'the broker must set a source identity (SPEC §5)');
  const tag = trust.Statement.find((s) => list(s.Action).includes('sts:TagSession'))!;
  t.same(tag.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys'], [CERTIFICATE_TAG]);
});

t.test("the broker role is trusted only by the agent pod's ServiceAccount", async (t) => {
  const irsa = load('broker-role-trust-irsa.json').Statement;
  t.equal(irsa.length, 1);
  t.same(list(irsa[0]!.Action), ['sts:AssumeRoleWithWebIdentity']);
  t.match(list(irsa[0]!.Principal?.['Federated'])[0], /^arn:aws:iam::111122223333:oidc-provider\//);
  const eq = irsa[0]!.Condition?.['StringEquals'] ?? {};
  t.same(Object.entries(eq).filter(([k]) => k.endsWith(':sub')).map(([, v]) => v), ['system:serviceaccount:agents:agent-deployer']);
  t.same(Object.entries(eq).filter(([k]) => k.endsWith(':aud')).map(([, v]) => v), ['sts.amazonaws.com']);
  const podIdentity = load('broker-role-trust-pod-identity.json').Statement;
  t.equal(podIdentity.length, 1);
  t.same(podIdentity[0]!.Principal, { Service: 'pods.eks.amazonaws.com' });
  t.same(list(podIdentity[0]!.Action).sort(), ['sts:AssumeRole', 'sts:TagSession']);
  t.match(podIdentity[0]!.Condition?.['StringEquals'], { 'aws:RequestTag/kubernetes-namespace': 'agents', 'aws:RequestTag/kubernetes-service-account': 'agent-deployer' });
});

t.test('the permission boundary denies minting and widening credentials', async (t) => {
  const boundary = load('executor-permission-boundary.json');
  const denied = boundary.Statement.filter((s) => s.Effect === 'Deny' && list(s.Resource).includes('*')).flatMap((s) => list(s.Action));
  for (const action of ['iam:*', 'sts:*', 'organizations:*', 'kms:ScheduleKeyDeletion', 'ec2:ModifyInstanceMetadataOptions']) t.ok(denied.includes(action), `denies ${action}`);
  t.notOk(boundary.Statement.some((s) => s.Condition && s.Effect === 'Deny'), 'the denies hold unconditionally');
  for (const action of ['iam:PassRole', 'iam:CreateAccessKey', 'sts:AssumeRole', 'sts:GetFederationToken', 'secretsmanager:GetSecretValue', 'ecr:GetAuthorizationToken']) {
    t.ok(denied.some((d) => wildcard(d, action)), `${action} is denied`);
  }
  const allowed = boundary.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action));
  t.notOk(allowed.some((a) => a === '*' || a.startsWith('iam:') || a.startsWith('sts:')), 'the ceiling names no IAM or STS action');
  // The example executor's own policy stays under the ceiling.
  const s3 = load('executor-s3-writer-policy.json');
  for (const action of s3.Statement.flatMap((s) => list(s.Action))) {
    t.ok(allowed.some((a) => wildcard(a, action)) && !denied.some((d) => wildcard(d, action)), `${action} fits the boundary`);
  }
});
