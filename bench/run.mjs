// `npm run bench`: what seb costs per request, side by side with the floor, on one fast local
// upstream (bench/lib/upstream.mjs). Paths: direct, a plain Node hop, nginx, and seb (certified AWS
// mutation with a cached identity, certified Kubernetes mutation, read, cold mint against a slow
// STS). Each at fixed rates and at its peak, with CPU time per request and memory. Loopback only;
// every run is bounded by SEB_BENCH_SECONDS (default 5) and a request count.
//
// Output: markdown on stdout (and bench/results/latest.md), JSON in bench/results/latest.json, the
// latency distributions in bench/results/latency.svg. SEB_BENCH_PROFILE=1 also writes a CPU
// profile of the broker to bench/results/profile/ (read it with bench/profile-top.mjs).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { cpuSeconds, freePort, memory, startProcess } from './lib/procs.mjs';
import { findNginx, startNginx } from './lib/nginx.mjs';
import { runLoad } from './lib/load.mjs';
import { added, latencySvg, latencyTable, stageTable, summarize } from './lib/report.mjs';
import { AWS_HEADERS, OPS, PATCH_BODY, PUT_BODY, PUT_SHA256, makeWorld } from './lib/world.mjs';

const SECONDS = Number(process.env.SEB_BENCH_SECONDS ?? 5);
const RATES = (process.env.SEB_BENCH_RATES ?? '200,1000').split(',').map(Number);
const PEAK_MAX = Number(process.env.SEB_BENCH_PEAK_MAX ?? 40_000);
const STS_DELAY_MS = Number(process.env.SEB_BENCH_STS_DELAY_MS ?? 20);
const PROFILE = process.env.SEB_BENCH_PROFILE === '1';
const NGINX_REQUIRED = process.env.SEB_REQUIRE_PEERS === '1';

const here = fileURLToPath(new URL('.', import.meta.url));
const results = join(here, 'results');
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'seb-bench-'));
const stops = [];
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const log = (line) => process.stderr.write(`bench: ${line}\n`);

const world = await makeWorld(dir);
const republish = setInterval(world.publishAuthority, 60_000);
stops.push(() => clearInterval(republish));
const upstream = await startProcess(process.execPath, [join(here, 'lib/upstream.mjs')], {
  env: { SEB_BENCH_TLS: JSON.stringify(world.upstreamTls), SEB_BENCH_STS_DELAY_MS: String(STS_DELAY_MS) },
});
stops.push(upstream.stop);
const ports = upstream.info;
const hop = await startProcess(process.execPath, [join(here, 'lib/node-hop.mjs')], { env: { SEB_BENCH_TARGET: `http://127.0.0.1:${ports.http}` } });
stops.push(hop.stop);

const nginxBin = findNginx();
let nginx = null;
if (nginxBin) {
  nginx = await startNginx(nginxBin, dir, ports.http);
  stops.push(nginx.stop);
} else if (NGINX_REQUIRED) {
  throw new Error('nginx is required (SEB_REQUIRE_PEERS=1): apt-get install nginx-light');
} else {
  log('nginx is not installed (apt-get install nginx-light): the nginx row is left out');
}

async function startSeb(name, options) {
  const listen = { aws: await freePort(), kube: await freePort(), admin: await freePort() };
  const config = world.brokerConfig(name, { ports: listen, upstream: ports, ...options });
  const profile = PROFILE && name === 'cached' ? ['--cpu-prof', `--cpu-prof-dir=${join(results, 'profile')}`] : [];
  const broker = await startProcess(process.execPath, [...profile, cli, 'run', '--config', config], { ready: /admin on/ });
  stops.push(broker.stop);
  return { ...broker, listen, idle: memory(broker.child.pid) };
}
const seb = await startSeb('cached', {});
const checkpointed = await startSeb('checkpoint', { sign: 'checkpoint' });
// AWS only: shows a broker's memory without the Kubernetes client.
const cold = await startSeb('cold', { mint: 'per_certificate', kube: false });

const put = { method: 'PUT', path: '/bench/k', headers: { ...AWS_HEADERS, 'x-amz-content-sha256': PUT_SHA256 }, body: PUT_BODY };
const get = { method: 'GET', path: '/bench/k', headers: { ...AWS_HEADERS, 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } };
const patch = { method: 'PATCH', path: '/apis/apps/v1/namespaces/default/deployments/web', headers: { 'content-type': 'application/merge-patch+json', accept: 'application/json' }, body: PATCH_BODY };
const none = () => ({});

/** Single-use certificates for at most `count` requests, handed out in order. */
function certified(op, count, header) {
  const certs = world.certificates(op, count);
  return { amount: count, nextHeaders: (i) => header(certs[Math.min(i, certs.length - 1)]) };
}
const awsCert = (count) => certified(OPS.awsPut, count, (c) => ({ 'x-seb-certificate': c }));
const kubeCert = (count) => certified(OPS.kubePatch, count, (c) => ({ authorization: `Bearer ${c}` }));

const PATHS = [
  { path: 'direct PUT', kind: 'put', url: `http://127.0.0.1:${ports.http}`, request: put, pid: upstream.child.pid, headers: () => ({ amount: undefined, nextHeaders: none }) },
  { path: 'direct GET', kind: 'get', url: `http://127.0.0.1:${ports.http}`, request: get, pid: upstream.child.pid, headers: () => ({ amount: undefined, nextHeaders: none }) },
  { path: 'direct PATCH (TLS)', kind: 'patch', url: `https://127.0.0.1:${ports.https}`, request: patch, pid: upstream.child.pid, headers: () => ({ amount: undefined, nextHeaders: none }) },
  { path: 'node undici hop', baseline: 'put', url: `http://127.0.0.1:${hop.info.port}`, request: put, pid: hop.child.pid, headers: () => ({ amount: undefined, nextHeaders: none }) },
  ...(nginx ? [{ path: 'nginx hop', baseline: 'put', url: `http://127.0.0.1:${nginx.port}`, request: put, pid: nginx.pid, headers: () => ({ amount: undefined, nextHeaders: none }) }] : []),
  { path: 'seb AWS PutObject, cached identity', baseline: 'put', url: `http://127.0.0.1:${seb.listen.aws}`, request: put, pid: seb.child.pid, headers: awsCert, stages: true },
  { path: 'seb AWS PutObject, cached identity, sign: checkpoint', baseline: 'put', url: `http://127.0.0.1:${checkpointed.listen.aws}`, request: put, pid: checkpointed.child.pid, headers: awsCert },
  { path: 'seb Kubernetes PATCH', baseline: 'patch', url: `https://127.0.0.1:${seb.listen.kube}`, request: patch, pid: seb.child.pid, headers: kubeCert },
  { path: 'seb read (GetObject)', baseline: 'get', url: `http://127.0.0.1:${seb.listen.aws}`, request: get, pid: seb.child.pid, headers: () => ({ amount: undefined, nextHeaders: none }) },
  { path: `seb AWS PutObject, cold mint (STS +${STS_DELAY_MS} ms)`, baseline: 'put', url: `http://127.0.0.1:${cold.listen.aws}`, request: put, pid: cold.child.pid, headers: awsCert, ratesOnly: [RATES[0]] },
];

async function measure(path, rate) {
  const budget = rate ? Math.ceil(rate * SECONDS * 1.1) + 100 : PEAK_MAX;
  const { amount, nextHeaders } = path.headers(budget);
  const cpuBefore = cpuSeconds(path.pid);
  const run = await runLoad({ url: path.url, request: path.request, nextHeaders, rate, seconds: SECONDS, amount });
  const cpu = cpuSeconds(path.pid) - cpuBefore;
  return { run, cpuMicros: run.latencies.length ? (cpu / run.latencies.length) * 1e6 : null };
}

const rows = [];
const direct = {};
const series = [];
let stages = {};
for (const path of PATHS) {
  // Warm the JIT, the connection pools and the identity cache before measuring.
  const warm = path.headers(2_000);
  await runLoad({ url: path.url, request: path.request, nextHeaders: warm.nextHeaders, connections: 4, seconds: 1, amount: 2_000 });
  const rates = path.ratesOnly ?? [...RATES, null];
  for (const rate of rates) {
    const { run, cpuMicros } = await measure(path, rate);
    const latency = summarize(run.latencies);
    if (path.kind) direct[`${path.kind}@${rate}`] = latency;
    const baseline = path.baseline && rate ? direct[`${path.baseline}@${rate}`] : null;
    rows.push({ path: path.path, rate, rps: run.rps, latency, added: baseline ? added(latency, baseline) : null, cpuMicros, errors: run.errors, statuses: run.statuses });
    if (rate === RATES.at(-1)) series.push({ name: path.path, latencies: run.latencies });
    if (path.stages && rate === RATES.at(-1)) stages = run.stages;
    log(`${path.path} @ ${rate ?? 'peak'}: ${Math.round(run.rps)} req/s, p50 ${latency.p50.toFixed(3)} ms, errors ${run.errors}${run.errors ? ` ${JSON.stringify({ ...run.statuses, ...run.reasons })}` : ''}`);
  }
}

const memoryRow = (name, broker) => ({ name, idleMiB: broker.idle.rssMiB, peakMiB: memory(broker.child.pid).peakMiB });
const mem = [memoryRow('seb, AWS and Kubernetes', seb), memoryRow('seb, AWS and Kubernetes, sign: checkpoint', checkpointed), memoryRow('seb, AWS only (cold mint)', cold)];
const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  nginx: nginxBin ? execFileSync(nginxBin, ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim() || 'nginx' : null,
  date: new Date().toISOString(),
};

for (const stop of stops.reverse()) await stop();

const markdown = [
  `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, Node ${machine.node}. ` +
    `${SECONDS} s per run; fixed rates by autocannon (paced per second, one connection per 200 req/s); peak: 32 connections.`,
  '',
  latencyTable(rows),
  '',
  `Stages of the certified AWS mutation at ${RATES.at(-1)} req/s (Server-Timing):`,
  '',
  stageTable(stages),
  '',
  '| broker | idle RSS MiB | peak RSS MiB |',
  '| --- | --- | --- |',
  ...mem.map((m) => `| ${m.name} | ${m.idleMiB.toFixed(1)} | ${m.peakMiB.toFixed(1)} |`),
].join('\n');

mkdirSync(results, { recursive: true });
writeFileSync(join(results, 'latest.json'), `${JSON.stringify({ machine, seconds: SECONDS, rates: RATES, rows, stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, summarize(v)])), memory: mem }, null, 2)}\n`);
writeFileSync(join(results, 'latest.md'), `${markdown}\n`);
writeFileSync(join(results, 'latency.svg'), latencySvg(`Latency by percentile at ${RATES.at(-1)} req/s (${machine.cpu})`, series));
process.stdout.write(`${markdown}\n`);
