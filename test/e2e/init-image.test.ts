// The init image as built by .ci/images.sh (sidecar/init/Dockerfile) installs the pod's egress rules
// in a pod network namespace the test makes, as Kubernetes does: a holder container owns the
// namespace, the init container joins it with NET_ADMIN and NET_RAW only. An upstream lives in a
// second namespace the test creates, joined by a veth pair; traffic goes nowhere else. Then the
// owner match must hold: the agent's UID cannot reach the upstream directly, the broker's UID can.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { INIT_IMAGE, requireDocker } from '../helpers/docker.js';
import { requirePeer } from '../helpers/peers.js';

const exec = promisify(execFile);
const BROKER_UID = 15000;
/** The agent's UID in k8s/agent/agent.yaml. */
const AGENT_UID = 1000;
/** A /30 inside the test's own namespaces: the pod's end and the upstream's. */
const POD_ADDR = '10.251.77.1';
const UPSTREAM_ADDR = '10.251.77.2';
const UPSTREAM_PORT = 8443;

/** Tries a TCP connection from the pod namespace as `uid`; answers 'connected' or the error code. */
async function connectAs(netns: string, uid: number): Promise<string> {
  const script = `const s=require('net').connect(${UPSTREAM_PORT},'${UPSTREAM_ADDR}',()=>{console.log('connected');s.destroy()});s.setTimeout(3000,()=>{console.log('ETIMEDOUT');s.destroy()});s.on('error',e=>console.log(e.code))`;
  const { stdout } = await exec('nsenter', [`--net=${netns}`, `--setuid=${uid}`, `--setgid=${uid}`, process.execPath, '-e', script]);
  return stdout.trim();
}

t.test('the init image\'s rules, in a namespace the test made: the agent\'s UID cannot reach the upstream, the broker\'s can', async (t) => {
  const docker = await requireDocker([INIT_IMAGE]);
  requirePeer('nsenter', 'apt-get install util-linux');
  requirePeer('ip', 'apt-get install iproute2');
  const tag = `${process.pid}`;
  const holder = `seb-init-holder-${tag}`;
  const upstreamNs = `seb-up-${tag}`;
  // The pod's namespace, held by a container that only sleeps (Kubernetes' pause container).
  await docker(['run', '-d', '--name', holder, '--network=none', '--entrypoint', 'sleep', INIT_IMAGE, '600']);
  t.teardown(() => docker(['rm', '-f', holder]).catch(() => undefined));
  const pid = (await docker(['inspect', '--format', '{{.State.Pid}}', holder])).trim();
  const podNs = `/proc/${pid}/ns/net`;
  await exec('ip', ['netns', 'add', upstreamNs]);
  t.teardown(() => exec('ip', ['netns', 'del', upstreamNs]).catch(() => undefined));
  const [podEnd, upEnd] = [`sebp${tag}`.slice(0, 15), `sebu${tag}`.slice(0, 15)];
  await exec('ip', ['link', 'add', podEnd, 'type', 'veth', 'peer', 'name', upEnd]);
  await exec('ip', ['link', 'set', podEnd, 'netns', pid]);
  await exec('ip', ['link', 'set', upEnd, 'netns', upstreamNs]);
  const inPod = (args: string[]) => exec('nsenter', [`--net=${podNs}`, 'ip', ...args]);
  const inUp = (args: string[]) => exec('ip', ['netns', 'exec', upstreamNs, 'ip', ...args]);
  await inPod(['addr', 'add', `${POD_ADDR}/30`, 'dev', podEnd]);
  await inPod(['link', 'set', podEnd, 'up']);
  await inPod(['link', 'set', 'lo', 'up']);
  await inUp(['addr', 'add', `${UPSTREAM_ADDR}/30`, 'dev', upEnd]);
  await inUp(['link', 'set', upEnd, 'up']);

  const upstream = spawn('ip', ['netns', 'exec', upstreamNs, process.execPath, '-e', `require('net').createServer((s)=>s.end()).listen(${UPSTREAM_PORT},'${UPSTREAM_ADDR}',()=>console.log('listening'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void upstream.kill());
  await new Promise<void>((resolve, reject) => {
    upstream.stdout.once('data', () => resolve());
    upstream.once('exit', (code) => reject(new Error(`the upstream listener exited ${code}`)));
  });
  t.equal(await connectAs(podNs, AGENT_UID), 'connected', 'before the rules, the agent\'s UID reaches the upstream (the control)');

  const { stderr } = await docker(['run', '--rm', `--network=container:${holder}`, '--cap-drop=ALL', '--cap-add=NET_ADMIN', '--cap-add=NET_RAW', '-e', `SEB_BROKER_UID=${BROKER_UID}`, INIT_IMAGE]).then(
    (stdout) => ({ stderr: '', stdout }),
    (err: { stderr?: string }) => ({ stderr: err.stderr ?? String(err) }),
  );
  t.equal(stderr, '', 'the init container applied its rules and exited 0');
  t.not(await connectAs(podNs, AGENT_UID), 'connected', 'the agent\'s UID cannot reach the upstream directly');
  t.equal(await connectAs(podNs, BROKER_UID), 'connected', 'the broker\'s UID can');
});
