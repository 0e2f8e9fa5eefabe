// The kubectl half of the command matrix (issue 17): rows of test/fixtures/commands/kubectl.json
// (also the source of docs/reference/commands.md), driven by one harness. Each row whose status is
// `pass` runs unchanged, in order, through capture -> certify -> execute -> state checked on the
// stand-in -> the same command again refused. The `create` rows send protobuf (SPEC §2.1).
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKubeBroker } from '../helpers/kube-broker.js';
import { kubectl } from '../helpers/kubectl.js';

interface Row {
  readonly setup?: readonly string[];
  readonly args: readonly string[];
  /** `protobuf`: every captured op carries kubectl's protobuf body. */
  readonly body?: 'protobuf';
  readonly check?: readonly string[];
  readonly expect?: string;
  /** `pass`, or why the row is not run (the docs page shows it). */
  readonly status: string;
  /** Admin command undoing the change before the second run, so kubectl sends the same request again. */
  readonly reset?: readonly string[];
}

const { rows } = JSON.parse(readFileSync(new URL('../fixtures/commands/kubectl.json', import.meta.url), 'utf8')) as { rows: Row[] };
const { dir, world, clientDir, tb } = await startKubeBroker(t, 'seb-kube-commands-');

// Files the rows name as @name.
const files: Record<string, string> = {
  '@manifest': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: applied, namespace: default }\ndata: { a: b }\n',
  '@manifest-ssa': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: applied-ssa, namespace: default }\ndata: { a: b }\n',
  '@swept': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: applied-ssa, namespace: default, labels: { sweep: "yes" } }\n',
  '@node': 'apiVersion: v1\nkind: Node\nmetadata: { name: node-1 }\n',
  // An uncordoned node-1 with one pod on it, for drain and for drain's second run.
  '@drain': 'apiVersion: v1\nkind: Node\nmetadata: { name: node-1 }\nspec: { unschedulable: false }\n---\n' +
    'apiVersion: v1\nkind: Pod\nmetadata: { name: on-node-1, namespace: default }\nspec: { nodeName: node-1, containers: [ { name: c, image: busybox } ] }\n',
};
const resolveFiles = (args: readonly string[]): string[] =>
  args.map((a) => {
    if (!(a in files)) return a;
    const path = join(dir, a.slice(1) + '.yaml');
    writeFileSync(path, files[a]!);
    return path;
  });
const agent = (args: readonly string[], token: string) =>
  kubectl(['--kubeconfig', join(clientDir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), '--token', token, ...resolveFiles(args)]);
const admin = (args: readonly string[]) => kubectl(['--kubeconfig', world.adminKubeconfig, '--cache-dir', join(dir, 'admin-cache'), ...resolveFiles(args)]);

t.test('every row not run says why', async (t) => {
  for (const row of rows) t.ok(row.status === 'pass' || row.status.length > 10, row.args.join(' '));
});

for (const row of rows.filter((r) => r.status === 'pass')) {
  t.test(`kubectl ${row.args.join(' ')}`, async (t) => {
    if (row.setup) t.equal((await admin(row.setup)).code, 0, 'setup');
    const ops = await tb.capture((_url, kubeconfig) =>
      kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'placeholder', ...resolveFiles(row.args)]));
    t.ok(ops.length >= 1, 'captured');
    if (row.body === 'protobuf') for (const op of ops) t.match(op, { content_type: 'application/vnd.kubernetes.protobuf', body: { sha256: /^[0-9a-f]{64}$/ } });
    const { jws, jti } = await tb.cert(ops);
    const run = await agent(row.args, jws);
    t.equal(run.code, 0, run.stderr);
    const state = await admin(row.check ?? []);
    t.match(state.stdout, new RegExp(row.expect ?? ''), state.stderr);
    if (row.reset) t.equal((await admin(row.reset)).code, 0, 'reset');
    const again = await agent(row.args, jws);
    // Asserted on the record, not the exit code: kubectl cordon prints the refusal and exits 0.
    const denial = tb.records.map((l) => JSON.parse(l)).filter((r) => r.type === 'decision' && r.decision === 'deny').at(-1);
    t.equal(denial?.reason, 'replay', 'the same command again is a replay');
    t.match(again.stderr, new RegExp(`replay.*${jti}`));
  });
}
