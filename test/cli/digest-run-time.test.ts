// `seb digest` with run-time values (SPEC §2.2) prints the digest capture pins and the broker
// matches: over the body with each named location replaced by its kind's marker.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { awsOpFor } from '../../src/targets/aws/capture.js';
import { kubeOpFor } from '../../src/targets/kube/capture.js';
import { resolveRequestInfo } from '../../src/targets/kube/request-info.js';
import { kubeFacts } from '../../src/targets/kube/facts.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-digest-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function seb(argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c));
  stderr.on('data', (c: Buffer) => (err += c));
  const status = await main(argv, { stdout, stderr, stdin: new PassThrough(), env: {} });
  return { status, out, err };
}

t.test('the digest equals what capture pins', async (t) => {
  const RESTARTED = '/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt';
  const patch = '{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-12-05T16:00:00Z"}}}}}';
  writeFileSync(join(dir, 'patch.json'), patch);
  const facts = kubeFacts(resolveRequestInfo('PATCH', '/apis/apps/v1/namespaces/web/deployments/web', 'fieldManager=kubectl-rollout'), 'application/strategic-merge-patch+json', Buffer.from(patch));
  const op = kubeOpFor(facts, Buffer.from(patch));
  const r = await seb(['digest', '--jcs', '--volatile', `${RESTARTED}=timestamp`, join(dir, 'patch.json')]);
  t.equal(r.status, 0, r.err);
  t.same({ jcs_sha256: r.out.trim() }, op.body);

  const form = 'Action=RunInstances&Version=2016-11-15&ClientToken=6f1c1d52-1a2b-4c3d-8e4f-0123456789ab';
  writeFileSync(join(dir, 'form.txt'), form);
  const ec2 = awsOpFor({ service: 'ec2', region: 'us-east-1', protocol: 'ec2', operation: 'RunInstances', resource: '*', params: {}, headers: {}, permissions: [], read: false, credentialVending: false }, '1', Buffer.from(form));
  const f = await seb(['digest', '--volatile', 'form:ClientToken=idempotency_token', join(dir, 'form.txt')]);
  t.same({ sha256: f.out.trim() }, ec2.body);
});

t.test('bad run-time flags are usage errors; a missing location fails', async (t) => {
  writeFileSync(join(dir, 'b.json'), '{"a":"x"}');
  t.equal((await seb(['digest', '--volatile', '/a=wildcard', join(dir, 'b.json')])).status, 2);
  t.equal((await seb(['digest', '--volatile', '/a=timestamp', join(dir, 'b.json')])).status, 2, 'a JSON pointer needs --jcs');
  t.equal((await seb(['digest', '--jcs', '--bind', 'query:uploadId', join(dir, 'b.json')])).status, 2, 'not a body location');
  const missing = await seb(['digest', '--jcs', '--volatile', '/b=timestamp', join(dir, 'b.json')]);
  t.equal(missing.status, 1);
  t.match(missing.err, /not in the body exactly once/);
});
