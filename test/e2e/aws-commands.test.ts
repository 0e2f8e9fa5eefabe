// The aws CLI half of the command matrix (issue 17): rows of test/fixtures/commands/aws.json (also
// the source of docs/reference/commands.md), driven by one harness against moto with SigV4
// checked. Each row whose status is `pass` runs unchanged through capture -> certify -> execute ->
// state checked in moto -> the same command again, refused `replay` (on the record). Rows run a
// few at a time: each has its own resources and its own certificate, so none depends on another.
// The agent's commands are the unmodified `aws` process; set-up, checks and resets go through one
// admin CLI process (test/helpers/aws-admin.ts), which spares some 60 interpreter start-ups.
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { agentEnv, type CliResult } from '../helpers/aws-cli.js';
import { startAwsAdmin } from '../helpers/aws-admin.js';
import { INSTALL_HINTS, requirePeer } from '../helpers/peers.js';
import { zipWith } from '../helpers/zip.js';

interface Row {
  /** Admin commands run first, in order; the last one's output is `@out`. */
  readonly setup?: readonly (readonly string[])[];
  readonly args: readonly string[];
  readonly check?: readonly string[];
  readonly expect?: string;
  /** What the command itself wrote to `@outfile` (an invoke's answer, relayed by the broker). */
  readonly outfile?: string;
  /** Admin commands undoing the change before the second run, so the CLI sends the same request again. */
  readonly reset?: readonly (readonly string[])[];
  readonly status: string;
}

/** Rows at once: enough to overlap the CLI's start-up (about a second of Python each) on two cores. */
const JOBS = 4;

const { rows } = JSON.parse(readFileSync(new URL('../fixtures/commands/aws.json', import.meta.url), 'utf8')) as { rows: Row[] };
const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());
const admin = startAwsAdmin(moto.endpoint, moto.admin);
t.teardown(() => admin.close());
const dir = mkdtempSync(join(tmpdir(), 'seb-aws-commands-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'small.txt'), 'small\n');
writeFileSync(join(dir, 'big.bin'), randomBytes(20 * 1024 * 1024));
writeFileSync(join(dir, 'fn.zip'), zipWith('index.py', 'def handler(event, context):\n    return 1\n'));
mkdirSync(join(dir, 'sync'));
writeFileSync(join(dir, 'sync', 'a.txt'), 'a\n');
writeFileSync(join(dir, 'sync', 'b.txt'), 'b\n');

/** The aws CLI with `env`; never rejects. */
function aws(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(requirePeer('aws', INSTALL_HINTS.aws), args, { env, timeout: 120_000, maxBuffer: 1 << 22 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** One row's run: its `@` names resolved for the endpoint the CLI is pointed at. */
class RowRun {
  readonly #names: Record<string, string>;

  constructor(index: number) {
    this.#names = {
      '@endpoint': '',
      '@moto': moto.endpoint,
      '@file': join(dir, 'small.txt'),
      '@big': join(dir, 'big.bin'),
      '@dir': join(dir, 'sync'),
      '@zip': join(dir, 'fn.zip'),
      '@outfile': join(dir, `out-${index}.json`),
      '@now': String(Date.now()),
      '@out': '',
    };
  }

  resolve(args: readonly string[], endpoint: string): string[] {
    const names: Record<string, string> = { ...this.#names, '@endpoint': endpoint };
    return args.map((a) => a.replace(/@[a-z]+/g, (name) => names[name] ?? name));
  }

  admin(args: readonly string[]): Promise<CliResult> {
    return admin.run(this.resolve(args, moto.endpoint));
  }

  /** The agent's unmodified CLI, pointed at `url` with `token` as its session token. */
  agent(args: readonly string[], url: string, token: string): Promise<CliResult> {
    return aws(this.resolve(args, url), agentEnv(url, token));
  }

  async setup(commands: readonly (readonly string[])[]): Promise<CliResult | null> {
    let last: CliResult | null = null;
    for (const command of commands) {
      last = await this.admin(command);
      if (last.code !== 0) return last;
    }
    this.#names['@out'] = last?.stdout.trim() ?? '';
    return last;
  }
}

t.test('every row not run says why', async (t) => {
  for (const row of rows) t.ok(row.status === 'pass' || row.status.length > 10, row.args.join(' '));
});

t.test('the rows', { jobs: JOBS }, async (t) => {
  rows.forEach((row, index) => {
    if (row.status !== 'pass') return;
    t.test(`aws ${row.args.join(' ')}`, async (t) => {
      const run = new RowRun(index);
      const setUp = await run.setup(row.setup ?? []);
      if (setUp) t.equal(setUp.code, 0, `setup: ${setUp.stderr}`);
      const ops = await tb.capture((url) => run.agent(row.args, url, 'placeholder'));
      t.ok(ops.length >= 1, 'captured');
      const { jws, jti } = await tb.cert(ops);
      const ok = await run.agent(row.args, tb.url, jws);
      t.equal(ok.code, 0, ok.stderr);
      const state = await run.admin(row.check ?? []);
      t.match(state.stdout, new RegExp(row.expect ?? ''), state.stderr);
      if (row.outfile !== undefined) t.match(readFileSync(run.resolve(['@outfile'], tb.url)[0]!, 'utf8'), new RegExp(row.outfile), 'the answer');
      for (const reset of row.reset ?? []) t.equal((await run.admin(reset)).code, 0, 'reset');
      const again = await run.agent(row.args, tb.url, jws);
      const denials = tb.records.map((l) => JSON.parse(l)).filter((r) => r.type === 'decision' && r.decision === 'deny' && r.certificate?.jti === jti);
      t.equal(denials.at(-1)?.reason, 'replay', 'the same command again is a replay');
      t.match(again.stderr, new RegExp(`replay.*${jti}`));
    });
  });
});
