// The kubectl half of the command matrix (issue 17), as data driven by one harness: each command
// runs unchanged through capture -> certify -> execute -> state checked on the stand-in -> the same
// command again refused `replay`. The `create` subcommands send protobuf bodies (SPEC §2.1).
import t from 'tap';
import { join } from 'node:path';
import { startKubeBroker } from '../helpers/kube-broker.js';
import { kubectl } from '../helpers/kubectl.js';

const { dir, world, clientDir, tb } = await startKubeBroker(t, 'seb-kube-commands-');

const agent = (args: readonly string[], token: string) =>
  kubectl(['--kubeconfig', join(clientDir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), '--token', token, ...args]);
const admin = (args: readonly string[]) => kubectl(['--kubeconfig', world.adminKubeconfig, '--cache-dir', join(dir, 'admin-cache'), ...args]);

interface Command {
  /** kubectl's arguments, run unchanged at capture, execution and replay. */
  readonly args: readonly string[];
  /** The body type each captured op must carry (the protobuf rows prove kubectl really sent it). */
  readonly contentType: string;
  /** An admin read of the state the command made, and what its output must hold. */
  readonly check: readonly string[];
  readonly expect: RegExp;
}

const PROTOBUF = 'application/vnd.kubernetes.protobuf';
const NS = ['-n', 'default'];
const COMMANDS: readonly Command[] = [
  { args: ['create', 'namespace', 'team-a'], contentType: PROTOBUF, check: ['get', 'namespace', 'team-a', '-o', 'name'], expect: /namespace\/team-a/ },
  {
    args: ['create', 'configmap', 'settings', '--from-literal=mode=fast', ...NS], contentType: PROTOBUF,
    check: ['get', 'configmap', 'settings', ...NS, '-o', 'jsonpath={.data.mode}'], expect: /^fast$/,
  },
  {
    args: ['create', 'secret', 'generic', 'token', '--from-literal=key=s3cr3t', ...NS], contentType: PROTOBUF,
    check: ['get', 'secret', 'token', ...NS, '-o', 'jsonpath={.data.key}'], expect: new RegExp(`^${Buffer.from('s3cr3t').toString('base64')}$`),
  },
  { args: ['create', 'serviceaccount', 'builder', ...NS], contentType: PROTOBUF, check: ['get', 'serviceaccount', 'builder', ...NS, '-o', 'name'], expect: /serviceaccount\/builder/ },
  {
    args: ['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2', '--port=80', ...NS], contentType: PROTOBUF,
    check: ['get', 'deployment', 'web', ...NS, '-o', 'jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.selector.matchLabels.app}'],
    expect: /^2 nginx:1\.27 web$/,
  },
  {
    args: ['create', 'job', 'migrate', '--image=busybox', ...NS, '--', 'echo', 'done'], contentType: PROTOBUF,
    check: ['get', 'job', 'migrate', ...NS, '-o', 'jsonpath={.spec.template.spec.containers[0].command}'], expect: /echo.*done/,
  },
];

for (const c of COMMANDS) {
  t.test(`kubectl ${c.args.join(' ')}`, async (t) => {
    const ops = await tb.capture((_url, kubeconfig) => kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'placeholder', ...c.args]));
    t.ok(ops.length >= 1, 'captured');
    for (const op of ops) t.match(op, { target: 'k8s', content_type: c.contentType, body: { sha256: /^[0-9a-f]{64}$/ } });
    const { jws, jti } = await tb.cert(ops);
    const run = await agent(c.args, jws);
    t.equal(run.code, 0, run.stderr);
    const state = await admin(c.check);
    t.match(state.stdout, c.expect, state.stderr);
    const again = await agent(c.args, jws);
    t.not(again.code, 0);
    t.match(again.stderr, new RegExp(`replay.*${jti}`), 'the same command again is a replay');
  });
}
