import t from 'tap';
import { Denial } from '../../src/reasons.js';
import { MAX_SESSION_POLICY_CHARS, policyDigest, sessionPolicy } from '../../src/identity/session-policy.js';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
}
function statements(policy: string): Statement[] {
  const doc = JSON.parse(policy) as { Version: string; Statement: Statement[] };
  if (doc.Version !== '2012-10-17') throw new Error(`unexpected policy version ${doc.Version}`);
  return doc.Statement;
}

t.test('one action on one resource', async (t) => {
  const policy = sessionPolicy([{ action: 's3:PutObject', resource: 'arn:aws:s3:::reports/2026/q3.csv' }]);
  t.equal(
    policy,
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::reports/2026/q3.csv"}]}',
  );
});

t.test('resources are written verbatim: the catalog wildcards stay wildcards', async (t) => {
  const table = ['arn:aws:ec2:us-east-1:123456789012:instance/*', 'arn:aws:s3:::b/${*}', '*'];
  for (const resource of table) {
    const [statement] = statements(sessionPolicy([{ action: 'ec2:RunInstances', resource }]));
    t.equal(statement?.Resource, resource, resource);
  }
});

t.test('statements group resources by identical action sets, sorted', async (t) => {
  const policy = sessionPolicy([
    { action: 's3:PutObject', resource: 'arn:aws:s3:::dst/k' },
    { action: 's3:GetObject', resource: 'arn:aws:s3:::src/k' },
    { action: 's3:GetObjectTagging', resource: 'arn:aws:s3:::src/k' },
    { action: 's3:PutObject', resource: 'arn:aws:s3:::dst/a' },
    { action: 's3:PutObject', resource: 'arn:aws:s3:::dst/a' },
  ]);
  t.same(statements(policy), [
    { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectTagging'], Resource: 'arn:aws:s3:::src/k' },
    { Effect: 'Allow', Action: 's3:PutObject', Resource: ['arn:aws:s3:::dst/a', 'arn:aws:s3:::dst/k'] },
  ]);
});

t.test('deterministic: input order does not change the text or the digest', async (t) => {
  const perms = [
    { action: 'ec2:RunInstances', resource: '*' },
    { action: 'ec2:CreateTags', resource: 'arn:aws:ec2:us-east-1:123456789012:instance/*' },
    { action: 'iam:PassRole', resource: 'arn:aws:iam::123456789012:role/app' },
  ];
  const a = sessionPolicy(perms);
  const b = sessionPolicy([...perms].reverse());
  t.equal(a, b);
  t.equal(policyDigest(a), policyDigest(b));
  t.not(policyDigest(a), policyDigest(sessionPolicy(perms.slice(1))));
});

t.test('policyDigest is short and fits a session name', async (t) => {
  const digest = policyDigest('{"Version":"2012-10-17","Statement":[]}');
  t.match(digest, /^[A-Za-z0-9_-]{16,32}$/);
});

t.test('refusals are mint_failed', async (t) => {
  const big = Array.from({ length: 40 }, (_, i) => ({ action: 's3:PutObject', resource: `arn:aws:s3:::bucket/${'k'.repeat(40)}-${i}` }));
  const table: [string, { action: string; resource: string }[]][] = [
    ['wildcard action', [{ action: 's3:*', resource: 'arn:aws:s3:::b/k' }]],
    ['wildcard inside action', [{ action: 's3:Put*', resource: 'arn:aws:s3:::b/k' }]],
    ['question mark action', [{ action: 's3:PutObjec?', resource: 'arn:aws:s3:::b/k' }]],
    ['bare star', [{ action: '*', resource: '*' }]],
    ['no service prefix', [{ action: 'PutObject', resource: 'arn:aws:s3:::b/k' }]],
    ['two colons', [{ action: 's3:Put:Object', resource: 'arn:aws:s3:::b/k' }]],
    ['empty action', [{ action: '', resource: 'arn:aws:s3:::b/k' }]],
    ['json smuggling', [{ action: 's3:GetObject","s3:*', resource: 'arn:aws:s3:::b/k' }]],
    ['empty resource', [{ action: 's3:GetObject', resource: '' }]],
    ['no permissions', []],
    ['over 2048 characters', big],
  ];
  for (const [name, perms] of table) {
    t.throws(() => sessionPolicy(perms), Denial, name);
    try {
      sessionPolicy(perms);
    } catch (err) {
      t.equal((err as Denial).code, 'mint_failed', name);
    }
  }
});

t.test('the size limit counts the final text and names its length', async (t) => {
  let n = 1;
  const perms = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ action: 's3:PutObject', resource: `arn:aws:s3:::b/${String(i).padStart(30, '0')}` }));
  const fits = (count: number): boolean => {
    try {
      return sessionPolicy(perms(count)).length <= MAX_SESSION_POLICY_CHARS;
    } catch {
      return false;
    }
  };
  while (fits(n + 1)) n++;
  // The largest set that fits is accepted, one more resource is refused.
  t.ok(sessionPolicy(perms(n)).length <= MAX_SESSION_POLICY_CHARS);
  const over = perms(n + 1);
  const err = t.throws(() => sessionPolicy(over)) as unknown as Denial;
  t.equal(err.code, 'mint_failed');
  t.match(err.detail, /^session policy too large: \d+ characters$/);
});
