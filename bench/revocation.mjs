// `npm run bench:revocation`: how long a revocation takes to stop a certificate, per authority
// source (SPEC §6): a file, HTTP push (server-sent events), HTTP long-poll, HTTP poll, and a
// ConfigMap watch. For each, a real `seb run` process serves the kube target against the stand-in
// apiserver; each trial admits a fresh certificate, publishes a state revoking its jti, and measures
// from the publish to the first response that says `revoked`.
//
// The probes use the certificate on a request outside its contract: the authority check comes
// before matching (SPEC §4), so until the revocation is in force they are denied
// `contract_mismatch` and spend no uses; the first `revoked` is the moment the certificate stopped
// working. Before each publish the bench waits a random time (up to the poll interval for the
// polled source) so publishes do not line up with the broker's timers.
//
// Loopback only. Bounded: SEB_BENCH_TRIALS trials per source (default 200), at most
// SEB_BENCH_SOURCE_SECONDS per source (default 300), 5 s per trial. Markdown on stdout.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CompactSign } from 'jose';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { startAuthorityFeed } from '../dist/authority/feed-server.js';
import { startStandInApiserver } from '../dist/dev/apiserver/server.js';
import { findResource } from '../dist/dev/apiserver/resources.js';
import { issueServingCert, makeLocalCa } from '../dist/targets/kube/local-pki.js';

const TRIALS = Number(process.env.SEB_BENCH_TRIALS ?? 200);
const SOURCE_SECONDS = Number(process.env.SEB_BENCH_SOURCE_SECONDS ?? 300);
const TRIAL_TIMEOUT_MS = 5000;
const START_TIMEOUT_MS = 20_000;
/** The URL source's plain polling interval (src/authority/url-source.ts POLL_MS). */
const POLL_MS = 1000;
const ISS = 'sab.bench';
const AUD = 'seb:bench:agents';
const CM = { namespace: 'seb-system', name: 'seb-authority', key: 'state.jws' };

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'seb-bench-revocation-'));
const cleanups = [];
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const log = (line) => process.stderr.write(`bench: ${line}\n`);

// --- keys, issued as the SAB would -----------------------------------------------------------
function makeKey(kid) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' }, privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'EdDSA' } };
}
const issuer = makeKey('sab-bench-1');
const brokerKey = makeKey('broker-bench-1');
const jwksPath = join(dir, 'issuer.jwks.json');
writeFileSync(jwksPath, JSON.stringify({ keys: [issuer.publicJwk] }));
const brokerKeyPath = join(dir, 'broker.jwk.json');
writeFileSync(brokerKeyPath, JSON.stringify(brokerKey.privateJwk), { mode: 0o600 });

const sign = (typ, claims) =>
  new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid: issuer.kid, typ }).sign(issuer.privateKey);
const now = () => Math.floor(Date.now() / 1000);
let seq = 0;
const authorityState = (revokedJti) =>
  sign('seb-authority+jwt', { iss: ISS, seq: ++seq, iat: now(), max_age: 300, policy_epoch: 1, revocation_epoch: 0, revoked: { jti: revokedJti, sub: [] } });
const GET_DEMO = {
  target: 'k8s', verb: 'get', group: '', version: 'v1', resource: 'configmaps', subresource: null, path_suffix: null,
  namespace: 'default', name: 'demo', generate_name: null, params: {}, content_type: null, body: null, pre_state: null, max_uses: 1,
};
async function certificate() {
  const jti = `c-${randomUUID()}`;
  const iat = now();
  const jws = await sign('seb-cert+jwt', {
    iss: ISS, sub: 'agent:bench', aud: AUD, jti, iat, nbf: iat, exp: iat + 300, policy_epoch: 1, revocation_epoch: 0,
    execution_identity: 'deployer', contract: { id: 'bench', evidence: '', ops: [GET_DEMO] },
  });
  return { jti, jws };
}

// --- the stand-in apiserver, where the broker may also read its authority ConfigMap -----------
const ca = await makeLocalCa('bench apiserver CA');
const caPath = join(dir, 'apiserver-ca.crt');
writeFileSync(caPath, ca.certPem);
const api = await startStandInApiserver({
  tls: await issueServingCert(ca, ['127.0.0.1']),
  tokens: { 'broker-token': { user: 'seb-broker', groups: [] } },
  impersonators: ['seb-broker'],
  rbac: {
    'seb-broker': [{ verbs: ['get', 'list', 'watch'], resources: ['configmaps'] }],
    'seb:executors': [{ verbs: ['*'], resources: ['*'] }],
    'seb:reader': [{ verbs: ['get', 'list', 'watch'], resources: ['*'] }],
  },
});
cleanups.push(() => api.close());
const configmaps = findResource('', 'v1', 'configmaps');
api.store.create(findResource('', 'v1', 'namespaces'), '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CM.namespace } });
api.store.create(configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'demo' }, data: { a: 'b' } });
const kubeconfigPath = join(dir, 'broker.kubeconfig');
writeFileSync(kubeconfigPath, stringify({
  apiVersion: 'v1', kind: 'Config', 'current-context': 'b',
  clusters: [{ name: 's', cluster: { server: api.url, 'certificate-authority': caPath } }],
  users: [{ name: 'b', user: { token: 'broker-token' } }],
  contexts: [{ name: 'b', context: { cluster: 's', user: 'b' } }],
}));

// --- the sources: how each publishes a state --------------------------------------------------
const authorityFile = join(dir, 'authority.jws');
async function feed(mode) {
  const f = await startAuthorityFeed({ mode });
  cleanups.push(() => f.close());
  return f;
}
const sse = await feed('sse');
const longPoll = await feed('long-poll');
const poll = await feed('poll');
const SOURCES = [
  {
    name: 'file (watched, 50 ms debounce)',
    config: { file: authorityFile },
    publish(jws) {
      // Atomic replace, as a volume update or a careful writer does.
      writeFileSync(`${authorityFile}.tmp`, jws);
      renameSync(`${authorityFile}.tmp`, authorityFile);
    },
    jitterMs: 20,
  },
  { name: 'HTTP push (server-sent events)', config: { url: sse.url }, publish: (jws) => sse.publish(jws), jitterMs: 20 },
  { name: 'HTTP long-poll', config: { url: longPoll.url }, publish: (jws) => longPoll.publish(jws), jitterMs: 20 },
  { name: `HTTP poll (every ${POLL_MS / 1000} s, ETag)`, config: { url: poll.url }, publish: (jws) => poll.publish(jws), jitterMs: POLL_MS },
  {
    name: 'ConfigMap watch',
    config: { configmap: CM },
    publish(jws) {
      const object = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CM.name }, data: { [CM.key]: jws } };
      if (api.store.get(configmaps, CM.namespace, CM.name)) api.store.update(configmaps, CM.namespace, CM.name, object);
      else api.store.create(configmaps, CM.namespace, object);
    },
    jitterMs: 20,
  },
];

// --- one broker process per source -------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startBroker(source, index) {
  const clientDir = join(dir, `client-${index}`);
  mkdirSync(clientDir);
  const ports = { kube: await freePort(), admin: await freePort() };
  const configPath = join(dir, `seb-${index}.yaml`);
  writeFileSync(configPath, stringify({
    broker: { id: `seb-bench-${index}`, audience: AUD, signing_key: brokerKeyPath },
    listen: { kube: `127.0.0.1:${ports.kube}`, admin: `127.0.0.1:${ports.admin}` },
    trust: { issuers: [{ iss: ISS, jwks: jwksPath }] },
    authority: { iss: ISS, ...source.config },
    reads: 'certify',
    read_executor: 'reader',
    executors: {
      deployer: { k8s: { user: 'seb:executor:deployer', groups: ['seb:executors'] } },
      reader: { k8s: { user: 'seb:reader', groups: ['seb:reader'] } },
    },
    kube: { kubeconfig: kubeconfigPath, client_dir: clientDir },
  }));
  // Records go to stdout: drained, not kept.
  const child = spawn(process.execPath, [cli, 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
  };
  process.once('exit', () => child.kill('SIGKILL'));
  const admin = `http://127.0.0.1:${ports.admin}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while ((await fetch(`${admin}/readyz`).then((r) => r.status, () => 0)) !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${source.name}: the broker did not become ready: ${stderr}`);
    }
    await sleep(50);
  }
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(clientDir, 'ca.crt')) }, connections: 1 });
  const origin = `https://127.0.0.1:${ports.kube}`;
  /** The decision on one GET: `admit` or the deny reason. */
  const use = async (path, jws) => {
    const answer = await request(`${origin}${path}`, { dispatcher, headers: { authorization: `Bearer ${jws}` } });
    await answer.body.dump();
    return answer.headers['x-seb-decision'] === 'admit' ? 'admit' : String(answer.headers['x-seb-reason']);
  };
  return {
    admit: (jws) => use('/api/v1/namespaces/default/configmaps/demo', jws),
    probe: (jws) => use('/api/v1/namespaces/default/configmaps/not-certified', jws),
    async close() {
      await dispatcher.close();
      await stop();
    },
  };
}

async function measure(source, index) {
  source.publish(await authorityState([]));
  const broker = await startBroker(source, index);
  const latencies = [];
  let timeouts = 0;
  const end = Date.now() + SOURCE_SECONDS * 1000;
  try {
    while (latencies.length + timeouts < TRIALS && Date.now() < end) {
      const cert = await certificate();
      const admitted = await broker.admit(cert.jws);
      if (admitted !== 'admit') throw new Error(`${source.name}: a fresh certificate was denied ${admitted}`);
      const state = await authorityState([cert.jti]);
      await sleep(Math.random() * source.jitterMs);
      const published = performance.now();
      source.publish(state);
      let latency = null;
      while (performance.now() - published < TRIAL_TIMEOUT_MS) {
        const reason = await broker.probe(cert.jws);
        if (reason === 'revoked') {
          latency = performance.now() - published;
          break;
        }
        if (reason !== 'contract_mismatch') throw new Error(`${source.name}: a probe was denied ${reason}`);
      }
      if (latency === null) timeouts++;
      else latencies.push(latency);
    }
  } finally {
    await broker.close();
  }
  return { latencies, timeouts };
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const rows = [];
try {
  for (const [index, source] of SOURCES.entries()) {
    log(`${source.name}: up to ${TRIALS} trials`);
    const { latencies, timeouts } = await measure(source, index);
    const sorted = [...latencies].sort((a, b) => a - b);
    const ms = (v) => (v === undefined ? '–' : v.toFixed(1));
    rows.push(`| ${source.name} | ${latencies.length}${timeouts ? ` (+${timeouts} over ${TRIAL_TIMEOUT_MS / 1000} s)` : ''} | ${ms(quantile(sorted, 0.5))} | ${ms(quantile(sorted, 0.99))} | ${ms(sorted.at(-1))} |`);
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}

process.stdout.write(
  [
    `Revocation propagation: publish to first \`revoked\` (ms), loopback, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}`,
    '',
    '| source | trials | p50 | p99 | max |',
    '|---|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n'),
);
