// The aws CLI half of the command matrix (issue 17): rows of test/fixtures/commands/aws.json (also
// the source of docs/reference/commands.md), driven by one harness against moto with SigV4
// checked. Each row whose status is `pass` runs unchanged, in order, through capture -> certify ->
// execute -> state checked in moto -> the same command again, refused `replay` (on the record).
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { agentEnv, awsCli, type CliResult } from '../helpers/aws-cli.js';
import { INSTALL_HINTS, requirePeer } from '../helpers/peers.js';

interface Row {
  readonly setup?: readonly string[];
  readonly args: readonly string[];
  readonly check?: readonly string[];
  readonly expect?: string;
  readonly reset?: readonly string[];
  readonly status: string;
}

const { rows } = JSON.parse(readFileSync(new URL('../fixtures/commands/aws.json', import.meta.url), 'utf8')) as { rows: Row[] };
const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());
const dir = mkdtempSync(join(tmpdir(), 'seb-aws-commands-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'small.txt'), 'small\n');
mkdirSync(join(dir, 'sync'));
writeFileSync(join(dir, 'sync', 'a.txt'), 'a\n');
writeFileSync(join(dir, 'sync', 'b.txt'), 'b\n');

/** `@endpoint` is where this run's CLI points (sqs needs it as a flag), `@moto` moto itself. */
const resolveArgs = (args: readonly string[], endpoint: string): string[] =>
  args.map((a) => ({ '@endpoint': endpoint, '@moto': moto.endpoint, '@file': join(dir, 'small.txt'), '@dir': join(dir, 'sync') })[a] ?? a);

function admin(args: readonly string[]): Promise<CliResult> {
  const env = { ...agentEnv(moto.endpoint, null), AWS_ACCESS_KEY_ID: moto.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.admin.secretAccessKey };
  return new Promise((resolve) => {
    execFile(requirePeer('aws', INSTALL_HINTS.aws), resolveArgs(args, moto.endpoint), { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

t.test('every row not run says why', async (t) => {
  for (const row of rows) t.ok(row.status === 'pass' || row.status.length > 10, row.args.join(' '));
});

for (const row of rows.filter((r) => r.status === 'pass')) {
  t.test(`aws ${row.args.join(' ')}`, async (t) => {
    if (row.setup) t.equal((await admin(row.setup)).code, 0, 'setup');
    const ops = await tb.capture((url) => awsCli(resolveArgs(row.args, url), url, 'placeholder'));
    t.ok(ops.length >= 1, 'captured');
    const { jws, jti } = await tb.cert(ops);
    const run = await awsCli(resolveArgs(row.args, tb.url), tb.url, jws);
    t.equal(run.code, 0, run.stderr);
    const state = await admin(row.check ?? []);
    t.match(state.stdout, new RegExp(row.expect ?? ''), state.stderr);
    if (row.reset) t.equal((await admin(row.reset)).code, 0, 'reset');
    const again = await awsCli(resolveArgs(row.args, tb.url), tb.url, jws);
    const denial = tb.records.map((l) => JSON.parse(l)).filter((r) => r.type === 'decision' && r.decision === 'deny').at(-1);
    t.equal(denial?.reason, 'replay', 'the same command again is a replay');
    t.match(again.stderr, new RegExp(`replay.*${jti}`));
  });
}
