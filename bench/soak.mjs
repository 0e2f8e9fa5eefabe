// `npm run soak`: a bounded soak of one broker at half its measured peak, with a mix of admitted,
// denied, read and streaming requests against the fast local upstream (bench/lib/upstream.mjs).
// It samples the broker's RSS, open file descriptors and active handles every SEB_SOAK_SAMPLE
// seconds, counts outcomes per window, and at the end stops the broker and runs
// `seb records verify` over everything it wrote. Loopback only; bounded by SEB_SOAK_SECONDS
// (default 600) and a request budget.
//
// Pass/fail (exit 1 on fail): every request got the answer its kind expects; errors did not grow
// from the first window to the last; descriptor counts are flat once warm (last-third mean within 16
// of the middle third's); the heap retained at idle after a full collection is within the replay
// ledger's share and SEB_SOAK_RSS_SLACK_MIB of the start (RSS is reported, not judged: V8 grows the
// heap before it collects); idle again after the
// upstream's keep-alive, descriptors and handles are back to the start; every authority republish
// was read; the records verify. The report also shows heap, replay entries and descriptors by kind.
//
// Output: markdown on stdout and in bench/results/soak.md, JSON in bench/results/soak.json.
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, execFileSync } from 'node:child_process';
import { Pool } from 'undici';
import { freePort, memory, startProcess } from './lib/procs.mjs';
import { OPS, PATCH_BODY, PUT_BODY, PUT_SHA256, AWS_HEADERS, makeWorld } from './lib/world.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const SECONDS = Number(process.env.SEB_SOAK_SECONDS ?? 600);
const SAMPLE_SECONDS = Number(process.env.SEB_SOAK_SAMPLE ?? Math.max(5, Math.round(SECONDS / 20)));
const RSS_SLACK_MIB = Number(process.env.SEB_SOAK_RSS_SLACK_MIB ?? 32);
const FD_SLACK = 16;
/**
 * The broker keeps idle keep-alive connections to its upstream until the upstream's announced
 * keep-alive (less undici's 2 s margin) passes; they are unref'd, so `active handles` never shows
 * them but /proc/PID/fd does. The soak's upstream announces this, and the idle sample is taken
 * after it plus IDLE_MARGIN_MS: every descriptor the load opened must be closed by then.
 */
const UPSTREAM_KEEPALIVE_MS = 10_000;
const IDLE_MARGIN_MS = 5_000;
const IDLE_SETTLE_MS = UPSTREAM_KEEPALIVE_MS + IDLE_MARGIN_MS;
const TICK_MS = 20;
/** Half the peak `npm run bench` last measured for the certified AWS mutation, unless told. */
const RATE = Number(process.env.SEB_SOAK_RATE ?? halfOfMeasuredPeak());
const BUDGET = Math.ceil(RATE * SECONDS * 1.05) + 100;

/** The mix, in parts per 100: each kind with the answer it must get. */
const MIX = [
  { kind: 'aws mutation, admitted', parts: 45, expect: 200 },
  { kind: 'aws mutation, denied (wrong key)', parts: 15, expect: 403 },
  { kind: 'aws mutation, denied (no certificate)', parts: 5, expect: 401 },
  { kind: 'aws read', parts: 20, expect: 200 },
  { kind: 'kube mutation, admitted', parts: 10, expect: 200 },
  { kind: 'kube watch (streams 1 s)', parts: 5, expect: 200 },
];

const log = (line) => process.stderr.write(`soak: ${line}\n`);

function halfOfMeasuredPeak() {
  try {
    const latest = JSON.parse(readFileSync(join(here, 'results/latest.json'), 'utf8'));
    const peak = latest.rows.find((r) => r.path === 'seb AWS PutObject, cached identity' && r.rate === null);
    if (peak) return Math.max(10, Math.round(peak.rps / 2));
  } catch {
    // No bench run yet: a conservative rate for a 2-core machine.
  }
  return 300;
}

const dir = mkdtempSync(join(tmpdir(), 'seb-soak-'));
const stops = [];
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const world = await makeWorld(dir);
const republish = setInterval(world.publishAuthority, 60_000);
stops.push(() => clearInterval(republish));
const upstream = await startProcess(process.execPath, [join(here, 'lib/upstream.mjs')], {
  env: { SEB_BENCH_TLS: JSON.stringify(world.upstreamTls), SEB_BENCH_UPSTREAM_KEEPALIVE_MS: String(UPSTREAM_KEEPALIVE_MS) },
});
stops.push(upstream.stop);

const listen = { aws: await freePort(), kube: await freePort(), admin: await freePort() };
const config = world.brokerConfig('soak', { ports: listen, upstream: upstream.info });
const recordsPath = join(dir, 'records.jsonl');
const brokerErr = createWriteStream(join(dir, 'broker.stderr'));
const broker = await startBroker(config, recordsPath);

const aws = new Pool(`http://127.0.0.1:${listen.aws}`, { connections: 32, keepAliveTimeout: 30_000 });
const kube = new Pool(`https://127.0.0.1:${listen.kube}`, {
  connections: 16,
  keepAliveTimeout: 30_000,
  connect: { ca: readFileSync(join(dir, 'soak-client', 'ca.crt')) },
});

const awsCerts = world.certificates(OPS.awsPut, Math.ceil(BUDGET * 0.6));
const kubeCerts = world.certificates(OPS.kubePatch, Math.ceil(BUDGET * 0.12));
let awsNext = 0;
let kubeNext = 0;
const put = { method: 'PUT', headers: { ...AWS_HEADERS, 'x-amz-content-sha256': PUT_SHA256 }, body: PUT_BODY };

/** One request of `kind`; resolves with its status and a label for the report (status and reason code), never rejects. */
function send(kind) {
  switch (kind) {
    case 'aws mutation, admitted':
      return answer(aws.request({ ...put, path: '/bench/k', headers: { ...put.headers, 'x-seb-certificate': awsCerts[awsNext++ % awsCerts.length] } }));
    case 'aws mutation, denied (wrong key)':
      return answer(aws.request({ ...put, path: '/bench/other', headers: { ...put.headers, 'x-seb-certificate': awsCerts[awsNext++ % awsCerts.length] } }));
    case 'aws mutation, denied (no certificate)':
      return answer(aws.request({ ...put, path: '/bench/k' }));
    case 'aws read':
      return answer(aws.request({ method: 'GET', path: '/bench/k', headers: { ...AWS_HEADERS, 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } }));
    case 'kube mutation, admitted':
      return answer(
        kube.request({
          method: 'PATCH',
          path: '/apis/apps/v1/namespaces/default/deployments/web',
          headers: { 'content-type': 'application/merge-patch+json', accept: 'application/json', authorization: `Bearer ${kubeCerts[kubeNext++ % kubeCerts.length]}` },
          body: PATCH_BODY,
        }),
      );
    case 'kube watch (streams 1 s)':
      return answer(kube.request({ method: 'GET', path: '/apis/apps/v1/namespaces/default/deployments?watch=true', headers: { accept: 'application/json' } }));
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

async function answer(pending) {
  try {
    const res = await pending;
    // Read to the end: a stream is only done when its body is.
    await res.body.dump({ limit: Infinity });
    // An unexpected denial is reported with its reason code, so a failed check says why.
    const reason = res.headers['x-seb-reason'];
    return { status: res.statusCode, label: typeof reason === 'string' ? `${res.statusCode} ${reason}` : res.statusCode };
  } catch (err) {
    const label = `error ${err.code ?? err.message}`;
    return { status: label, label };
  }
}

/** The kinds in MIX proportion, interleaved: request i is of kind schedule[i % 100]. */
const schedule = MIX.flatMap((m) => Array(m.parts).fill(m));
for (let i = schedule.length - 1; i > 0; i--) {
  const j = (i * 7919) % (i + 1);
  [schedule[i], schedule[j]] = [schedule[j], schedule[i]];
}

const windows = [];
let window = newWindow(0);
const totals = Object.fromEntries(MIX.map((m) => [m.kind, { sent: 0, expected: 0, other: {} }]));
const inFlight = new Set();
let sent = 0;

function newWindow(startS) {
  return { startS, sent: 0, unexpected: 0 };
}

function sample(atS) {
  const mem = memory(broker.child.pid);
  return { atS, rssMiB: mem.rssMiB, fds: readdirSync(`/proc/${broker.child.pid}/fd`).length, handles: null, inFlight: inFlight.size, ...window };
}

/** What the broker's /metrics says about where its memory and handles are (NaN when unreadable). */
async function brokerMetrics() {
  let text = '';
  try {
    text = await (await fetch(`http://127.0.0.1:${listen.admin}/metrics`)).text();
  } catch {
    // Reported as NaN.
  }
  const value = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  const mib = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;
  return {
    handles: value('nodejs_active_handles_total'),
    heapMiB: mib(value('nodejs_heap_size_used_bytes')),
    externalMiB: mib(value('nodejs_external_memory_bytes')),
    replayEntries: value('seb_replay_entries'),
    authorityOverdue: value('seb_authority_overdue'),
  };
}

/**
 * Heap used after a full collection: a heap snapshot collects first. Waits (at most 120 s) for the
 * snapshot file to stop growing; NaN when none came.
 */
async function heapAfterFullGc() {
  broker.child.kill('SIGUSR2');
  let last = -1;
  for (let waited = 0; waited < 120_000; waited += 1_000) {
    await new Promise((r) => setTimeout(r, 1_000));
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot'));
    if (file === undefined) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === last) {
      rmSync(join(dir, file));
      return (await brokerMetrics()).heapMiB;
    }
    last = size;
  }
  return NaN;
}

/** TCP sockets of `pid` by inode: local and remote port (/proc/PID/net/tcp{,6}). */
function tcpSockets(pid) {
  const byInode = new Map();
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      byInode.set(f[9], { local: parseInt(f[1].split(':')[1], 16), remote: parseInt(f[2].split(':')[1], 16) });
    }
  }
  return byInode;
}

/**
 * The broker's descriptors by kind (pipe, anon_inode:[eventpoll], a file path...), sockets by peer:
 * `upstream socket` is the broker's pool to the fast upstream (and STS), `agent socket` a client
 * connection to a listener, `listening or other socket` the rest.
 */
function fdKinds(pid) {
  const kinds = {};
  const tcp = tcpSockets(pid);
  const upstreamPorts = new Set([upstream.info.http, upstream.info.https, upstream.info.sts]);
  const listenPorts = new Set(Object.values(listen));
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    const peer = inode === undefined ? undefined : tcp.get(inode);
    const kind =
      inode === undefined ? target.replace(/:\[\d+\]$/, '')
      : peer && upstreamPorts.has(peer.remote) ? 'upstream socket'
      : peer && listenPorts.has(peer.local) && peer.remote !== 0 ? 'agent socket'
      : 'listening or other socket';
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

log(`${SECONDS} s at ${RATE} req/s (budget ${BUDGET}), sampling every ${SAMPLE_SECONDS} s; broker pid ${broker.child.pid}`);
const started = performance.now();
const baseline = { ...sample(0), ...(await brokerMetrics()), fdKinds: fdKinds(broker.child.pid) };
const samples = [baseline];
let nextSampleS = SAMPLE_SECONDS;

while (sent < BUDGET) {
  const elapsedS = (performance.now() - started) / 1000;
  if (elapsedS >= SECONDS) break;
  if (elapsedS >= nextSampleS) {
    const s = { ...sample(nextSampleS), ...(await brokerMetrics()) };
    samples.push(s);
    windows.push(window);
    window = newWindow(nextSampleS);
    log(`${Math.round(elapsedS)} s: rss ${s.rssMiB.toFixed(1)} MiB, heap ${s.heapMiB} MiB, replay entries ${s.replayEntries}, fds ${s.fds}, handles ${s.handles}, sent ${sent}, unexpected in window ${s.unexpected}, in flight ${inFlight.size}`);
    nextSampleS += SAMPLE_SECONDS;
  }
  // Paced: as many as the schedule owes by now, so a slow tick is caught up rather than lost.
  const owed = Math.floor(elapsedS * RATE) - sent;
  for (let n = 0; n < owed && sent < BUDGET; n++) {
    const m = schedule[sent % schedule.length];
    sent += 1;
    window.sent += 1;
    const w = window;
    const t = totals[m.kind];
    t.sent += 1;
    const p = send(m.kind).then(({ status, label }) => {
      if (status === m.expect) t.expected += 1;
      else {
        t.other[label] = (t.other[label] ?? 0) + 1;
        w.unexpected += 1;
      }
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await new Promise((r) => setTimeout(r, TICK_MS));
}
await Promise.all(inFlight);
windows.push(window);
const durationS = (performance.now() - started) / 1000;
// Idle again: what the broker holds once the load is gone (a leak keeps what a busy heap returns).
await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
const idle = { ...sample(Math.round((performance.now() - started) / 1000)), ...(await brokerMetrics()), fdKinds: fdKinds(broker.child.pid) };
const idleHeapAfterGcMiB = await heapAfterFullGc();

await aws.close();
await kube.close();
const keys = await (await fetch(`http://127.0.0.1:${listen.admin}/keys`)).text();
writeFileSync(join(dir, 'broker.jwks.json'), keys);
const closed = new Promise((resolve) => broker.child.once('close', resolve));
broker.child.kill('SIGTERM');
await closed;
await broker.recordsClosed;
for (const stop of stops.reverse()) await stop();

let verify;
try {
  verify = { ok: true, output: execFileSync(process.execPath, [cli, 'records', 'verify', '--key', join(dir, 'broker.jwks.json'), recordsPath], { encoding: 'utf8' }).trim() };
} catch (err) {
  verify = { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() };
}

// Flatness: compare the last third of the run with the middle third (the first is warm-up).
// Flatness under load: the last third of the loaded samples against the middle third (the first
// third is warm-up: pools, JIT, the heap growing to its working size).
const loaded = samples.filter((s) => s.atS > 0);
const third = (k) => loaded.slice(Math.floor(loaded.length * k), Math.floor(loaded.length * (k + 1 / 3)));
const mean = (xs, f) => xs.reduce((a, s) => a + f(s), 0) / Math.max(1, xs.length);
const middle = third(1 / 3);
const last = third(2 / 3);
const rssGrowth = mean(last, (s) => s.rssMiB) - mean(middle, (s) => s.rssMiB);
const fdGrowth = mean(last, (s) => s.fds) - mean(middle, (s) => s.fds);
/** The memory ledger's measured cost per use (src/replay/memory.ts DEFAULT_MAX_ENTRIES). */
const LEDGER_BYTES_PER_USE = 150;
const ledgerMiB = (idle.replayEntries * LEDGER_BYTES_PER_USE) / 2 ** 20;
const unexpected = Object.values(totals).reduce((a, t) => a + (t.sent - t.expected), 0);
const errorGrowth = (windows.at(-1)?.unexpected ?? 0) > (windows[0]?.unexpected ?? 0);
const checks = [
  { check: 'every request got the answer its kind expects', ok: unexpected === 0, detail: `${unexpected} of ${sent} did not` },
  { check: 'errors did not grow (first window vs last)', ok: !errorGrowth, detail: `${windows[0]?.unexpected ?? 0} -> ${windows.at(-1)?.unexpected ?? 0}` },
  {
    // RSS under load follows V8's lazy collection (an uncollected heap grew 50 -> 106 MiB in 60 s at
    // 80 req/s and was 51 MiB after a full collection), so a leak is judged on the retained heap:
    // after a full collection at idle, within the replay ledger's share (it holds each use until
    // exp + skew; the soak's certificates live 900 s) and RSS_SLACK_MIB of the start.
    check: `no leak: heap retained at idle after a full collection within the replay ledger's share and ${RSS_SLACK_MIB} MiB of the start`,
    ok: idleHeapAfterGcMiB - baseline.heapMiB <= ledgerMiB + RSS_SLACK_MIB,
    detail: `${idleHeapAfterGcMiB} MiB (start ${baseline.heapMiB}, ledger ${idle.replayEntries} uses ≈ ${ledgerMiB.toFixed(1)} MiB); RSS last third vs middle ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)} MiB (not judged: V8 collects lazily)`,
  },
  { check: `descriptors flat (within ${FD_SLACK})`, ok: fdGrowth <= FD_SLACK, detail: `${fdGrowth >= 0 ? '+' : ''}${fdGrowth.toFixed(1)}` },
  {
    // RSS is not judged here: V8 returns an idle heap to the OS only at its next GC, whenever that is.
    check: `idle ${IDLE_SETTLE_MS / 1000} s after the load (past the upstream's ${UPSTREAM_KEEPALIVE_MS / 1000} s keep-alive), descriptors and active handles back to the start (within ${FD_SLACK})`,
    ok: idle.fds <= baseline.fds + FD_SLACK && idle.handles <= baseline.handles + FD_SLACK,
    detail: `fds ${idle.fds} (start ${baseline.fds}), handles ${idle.handles} (start ${baseline.handles}); RSS ${idle.rssMiB.toFixed(1)} MiB`,
  },
  {
    // The soak republishes every 60 s with max_age 300: a state past half its age means one was missed.
    check: 'every authority republish was read (seb_authority_overdue stayed 0)',
    ok: samples.every((s) => s.authorityOverdue === 0),
    detail: `${samples.filter((s) => s.authorityOverdue !== 0).length} of ${samples.length} samples overdue`,
  },
  { check: 'records verify', ok: verify.ok, detail: verify.output.split('\n')[0] },
];

const behind = samples.at(-1)?.inFlight ?? 0;
const markdown = [
  `Soak: ${Math.round(durationS)} s at ${RATE} req/s on ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), Node ${process.version}, ${new Date().toISOString()}.`,
  '',
  `Offered ${RATE} req/s; the broker answered ${Math.round((sent - behind) / Math.min(durationS, SECONDS))} req/s on average over the loaded part (${behind} requests queued in the client at the last sample; every one was answered before the checks).`,
  '',
  '| kind | sent | expected answer | got it | other answers |',
  '| --- | --- | --- | --- | --- |',
  ...MIX.map((m) => `| ${m.kind} | ${totals[m.kind].sent} | ${m.expect} | ${totals[m.kind].expected} | ${JSON.stringify(totals[m.kind].other)} |`),
  '',
  '| at s | RSS MiB | heap used MiB | external MiB | replay entries | fds | active handles | client requests in flight | sent in window | unexpected in window |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...[...samples, { ...idle, sent: '(idle)', unexpected: '' }].map(
    (s) => `| ${s.atS} | ${s.rssMiB.toFixed(1)} | ${s.heapMiB} | ${s.externalMiB} | ${s.replayEntries} | ${s.fds} | ${s.handles} | ${s.inFlight} | ${s.sent} | ${s.unexpected} |`,
  ),
  '',
  `Heap used at idle after a full collection: ${idleHeapAfterGcMiB} MiB (start ${baseline.heapMiB} MiB, uncollected at idle ${idle.heapMiB} MiB); the memory replay ledger holds ${idle.replayEntries} uses (about 150 B each, kept until exp + skew).`,
  '',
  `Descriptors by kind at the start: ${JSON.stringify(baseline.fdKinds)}; idle after the load: ${JSON.stringify(idle.fdKinds)}.`,
  '',
  '| check | result | detail |',
  '| --- | --- | --- |',
  ...checks.map((c) => `| ${c.check} | ${c.ok ? 'pass' : 'FAIL'} | ${c.detail} |`),
].join('\n');

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results/soak.md'), `${markdown}\n`);
writeFileSync(join(here, 'results/soak.json'), `${JSON.stringify({ seconds: durationS, rate: RATE, totals, samples, idle, idleHeapAfterGcMiB, checks, verify }, null, 2)}\n`);
process.stdout.write(`${markdown}\n`);
process.exitCode = checks.every((c) => c.ok) ? 0 : 1;

/** `seb run` with its records (stdout) going to a file, for `seb records verify` at the end. */
function startBroker(configPath, recordsFile) {
  const records = createWriteStream(recordsFile);
  // SIGUSR2 writes a heap snapshot (into the run's directory), which first collects all garbage:
  // the idle sample uses it to tell retained heap from garbage V8 had not yet collected.
  const child = spawn(process.execPath, ['--heapsnapshot-signal=SIGUSR2', cli, 'run', '--config', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', () => child.kill('SIGKILL'));
  child.stdout.pipe(records);
  child.stderr.pipe(brokerErr);
  const recordsClosed = new Promise((resolve) => records.on('close', resolve));
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start within 20 s: ${err}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`broker exited (${code}): ${err}`)));
    child.stderr.on('data', (chunk) => {
      err = (err + chunk).slice(-4000);
      if (/admin on/.test(err)) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, recordsClosed });
      }
    });
  });
}
