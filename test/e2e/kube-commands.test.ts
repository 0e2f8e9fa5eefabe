// The kubectl half of the command matrix (issue 17): rows of test/fixtures/commands/kubectl.json
// (also the source of docs/reference/commands.md), driven by one harness. Each row whose status is
// `pass` runs unchanged through capture -> certify -> execute -> state checked on the stand-in ->
// the same command again refused `replay`; a read row runs without a certificate. Rows of one
// `chain` share objects and run in order; chains run side by side. The `create` rows send
// protobuf (SPEC §2.1).
import t, { type Test } from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startKubeBroker } from '../helpers/kube-broker.js';
import { forwardedPort, kubectl, kubectlInBackground } from '../helpers/kubectl.js';
import { until } from '../helpers/until.js';

type Command = readonly string[];

interface Row {
  /** Rows of one chain share objects and run in order; chains run side by side. */
  readonly chain?: string;
  /** Admin commands run first. */
  readonly setup?: Command | readonly Command[];
  readonly args: Command;
  /** `protobuf`: every captured op carries kubectl's protobuf body. */
  readonly body?: 'protobuf';
  /**
   * A command that does not end by itself, run in the background and stopped once checked:
   * `port-forward` (its `output` is the answer through the forwarded port) or `follow` (its
   * `output` is what it printed so far).
   */
  readonly stream?: 'port-forward' | 'follow';
  /** A read: it runs without a certificate, so there is nothing to certify or to refuse again. */
  readonly read?: boolean;
  /** What the agent's command printed (or wrote to the `saved` file) must match this. */
  readonly output?: string;
  /** A local file (@name) the agent's command writes, `kubectl cp POD:PATH LOCAL`'s. */
  readonly saved?: string;
  readonly check?: Command;
  readonly expect?: string;
  /** `pass`, or why the row is not run (the docs page shows it). */
  readonly status: string;
  /** Admin commands undoing the change before the second run, so kubectl sends the same requests again. */
  readonly reset?: Command | readonly Command[];
  /** Milliseconds between the two runs: kubectl writes `restartedAt` in whole seconds and restarts once a second. */
  readonly apart_ms?: number;
}

/** How many chains run at once: enough to overlap kubectl's waits, few enough for a 2-core machine. */
const CHAINS_AT_ONCE = 3;
/** How long a background command may take to print what its row waits for. */
const STREAM_WAIT_MS = 20_000;

const { rows } = JSON.parse(readFileSync(new URL('../fixtures/commands/kubectl.json', import.meta.url), 'utf8')) as { rows: Row[] };

/** What listens on port 80 of pod `tmp` (port-forward's row). */
const pod = createServer((_req, res) => res.end('hello from pod tmp\n'));
await new Promise<void>((resolve) => pod.listen(0, '127.0.0.1', resolve));
t.teardown(() => pod.close());
const podPort = (pod.address() as AddressInfo).port;
const { dir, world, clientDir, tb } = await startKubeBroker(t, 'seb-kube-commands-', {
  podPorts: (p, port) => (p.name === 'tmp' && port === 80 ? podPort : undefined),
});

// Files the rows name as @name.
const files: Record<string, string> = {
  '@manifest': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: applied, namespace: default }\ndata: { a: b }\n',
  '@manifest-ssa': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: applied-ssa, namespace: default }\ndata: { a: b }\n',
  '@swept': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: applied-ssa, namespace: default, labels: { sweep: "yes" } }\n',
  '@node': 'apiVersion: v1\nkind: Node\nmetadata: { name: node-1 }\n',
  // An uncordoned node-1 with one pod on it, for drain and for drain's second run.
  '@drain': 'apiVersion: v1\nkind: Node\nmetadata: { name: node-1 }\nspec: { unschedulable: false }\n---\n' +
    'apiVersion: v1\nkind: Pod\nmetadata: { name: on-node-1, namespace: default }\nspec: { nodeName: node-1, containers: [ { name: c, image: busybox } ] }\n',
  '@upload': 'copied by kubectl cp\n',
};
/** Where the agent's command writes a local file (the row's `saved`). */
const localPath = (name: string) => join(dir, `${name.slice(1)}.out`);
const resolveFiles = (args: Command): string[] =>
  args.map((a) => {
    if (rows.some((r) => r.saved === a)) return localPath(a);
    if (!(a in files)) return a;
    const path = join(dir, a.slice(1) + (a === '@upload' ? '.txt' : '.yaml'));
    writeFileSync(path, files[a]!);
    return path;
  });
const commands = (c: Row['setup']): Command[] => (c === undefined ? [] : typeof c[0] === 'string' ? [c as Command] : (c as Command[]));
const agentArgs = (token: string) => ['--kubeconfig', join(clientDir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), '--token', token];
const admin = (args: Command) => kubectl(['--kubeconfig', world.adminKubeconfig, '--cache-dir', join(dir, 'admin-cache'), ...resolveFiles(args)]);

/** The agent's command; a `stream` row's is stopped once it showed what the row waits for (code 0 if it was still running). */
async function agent(row: Row, token: string): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const args = [...agentArgs(token), ...resolveFiles(row.args)];
  if (row.saved !== undefined) {
    const run = await kubectl(args);
    return { ...run, stdout: existsSync(localPath(row.saved)) ? readFileSync(localPath(row.saved), 'utf8') : '' };
  }
  if (row.stream === undefined) return kubectl(args);
  const run = kubectlInBackground(args);
  const running = () => run.child.exitCode === null && run.child.signalCode === null;
  let stdout: string;
  if (row.stream === 'port-forward') {
    const port = await forwardedPort(run, STREAM_WAIT_MS);
    stdout = port === null ? '' : await (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(STREAM_WAIT_MS) })).text();
  } else {
    await until(() => new RegExp(row.output ?? '').test(run.out()) || !running(), STREAM_WAIT_MS);
    stdout = run.out();
  }
  const code = running() ? 0 : await run.exited;
  run.child.kill();
  await run.exited;
  return { code, stdout, stderr: run.err() };
}

const denialOf = (jti: string) =>
  tb.records.map((l) => JSON.parse(l)).filter((r) => r.type === 'decision' && r.decision === 'deny' && r.certificate?.jti === jti).at(-1);

t.test('every row not run says why', async (t) => {
  for (const row of rows) t.ok(row.status === 'pass' || row.status.length > 10, row.args.join(' '));
});

const chains = new Map<string, Row[]>();
for (const row of rows.filter((r) => r.status === 'pass')) {
  const name = row.chain ?? `kubectl ${row.args.join(' ')}`;
  chains.set(name, [...(chains.get(name) ?? []), row]);
}
t.jobs = CHAINS_AT_ONCE;
for (const [name, chain] of chains) {
  t.test(name, async (t) => {
    for (const row of chain) await t.test(`kubectl ${row.args.join(' ')}`, (t) => runRow(t, row));
  });
}

async function runRow(t: Test, row: Row): Promise<void> {
  for (const c of commands(row.setup)) t.equal((await admin(c)).code, 0, `setup: ${c.join(' ')}`);
  if (row.read === true) {
    const run = await agent(row, 'placeholder');
    t.equal(run.code, 0, run.stderr);
    t.match(run.stdout, new RegExp(row.output ?? ''), 'a read, run without a certificate');
    return;
  }
  // Everything capture printed is certified: exec's WebSocket try and its SPDY fallback print the
  // same op twice, and the broker matches the first copy only, so the copy adds no use.
  const ops = await tb.capture((_url, kubeconfig) =>
    kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'placeholder', ...resolveFiles(row.args)]));
  t.ok(ops.length >= 1, 'captured');
  if (row.body === 'protobuf') for (const op of ops) t.match(op, { content_type: 'application/vnd.kubernetes.protobuf', body: { sha256: /^[0-9a-f]{64}$/ } });
  const { jws, jti } = await tb.cert(ops);
  const run = await agent(row, jws);
  t.equal(run.code, 0, run.stderr);
  if (row.output !== undefined) t.match(run.stdout, new RegExp(row.output), 'what the command printed');
  if (row.check !== undefined) {
    const state = await admin(row.check);
    t.match(state.stdout, new RegExp(row.expect ?? ''), state.stderr);
  }
  for (const c of commands(row.reset)) t.equal((await admin(c)).code, 0, `reset: ${c.join(' ')}`);
  if (row.apart_ms !== undefined) await new Promise((r) => setTimeout(r, row.apart_ms));
  const again = await agent(row, jws);
  // Asserted on the record, not the exit code: kubectl cordon prints the refusal and exits 0.
  t.equal(denialOf(jti)?.reason, 'replay', 'the same command again is a replay');
  t.match(again.stderr, new RegExp(`replay.*${jti}`));
}
