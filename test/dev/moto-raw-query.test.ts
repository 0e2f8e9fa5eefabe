/**
 * The sandbox's moto checks SigV4 over the request as sent (src/dev/moto.ts AS_SENT_PATCH): a
 * correctly signed `%2F` in a query value (`aws s3 ls s3://b/d/`, `sync`, `rm --recursive`) and a
 * REST GET with neither body nor query (`aws lambda list-functions`, `get-function`) are accepted,
 * and the check itself stays on (a wrong key is still SignatureDoesNotMatch).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMoto, type AccessKey } from '../helpers/moto.js';
import { agentEnv, type CliResult } from '../helpers/aws-cli.js';
import { INSTALL_HINTS, requirePeer } from '../helpers/peers.js';

const moto = await startMoto();
t.teardown(() => moto.stop());

function aws(args: readonly string[], key: AccessKey): Promise<CliResult> {
  const env = { ...agentEnv(moto.endpoint, null), AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey };
  return new Promise((resolve) => {
    execFile(requirePeer('aws', INSTALL_HINTS.aws), args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

t.test('a signed %2F in a query value is accepted, a wrong signature is not', async (t) => {
  const admin = moto.admin;
  t.equal((await aws(['s3', 'mb', 's3://seb-raw-query'], admin)).code, 0);
  const file = join(t.testdir(), 'k');
  writeFileSync(file, 'data');
  t.equal((await aws(['s3', 'cp', file, 's3://seb-raw-query/d/k'], admin)).code, 0);
  const ls = await aws(['s3', 'ls', 's3://seb-raw-query/d/'], admin);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, / k\n/, 'prefix=d%2F&delimiter=%2F lists the key');
  const wrong = await aws(['s3', 'ls', 's3://seb-raw-query/d/'], { ...admin, secretAccessKey: 'not-the-secret' });
  t.not(wrong.code, 0);
  t.match(wrong.stderr, 'SignatureDoesNotMatch');
});

t.test('a signed GET with neither body nor query is accepted, a wrong signature is not', async (t) => {
  const list = await aws(['lambda', 'list-functions'], moto.admin);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, '"Functions": []');
  const wrong = await aws(['lambda', 'list-functions'], { ...moto.admin, secretAccessKey: 'not-the-secret' });
  t.not(wrong.code, 0);
  t.match(wrong.stderr, 'SignatureDoesNotMatch');
});
