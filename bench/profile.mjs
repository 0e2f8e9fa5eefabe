// `npm run bench:profile`: where one broker's CPU goes per certified request, path by path, at a
// fixed, bounded rate (issue 14). CPU time is read from /proc over the measured requests only, so
// it is far less sensitive to a busy machine than latency. Several builds (or V8 flags) can be
// compared in one run, interleaved round by round (A/B), and the medians are reported:
//
//   SEB_PROFILE_CLI=before=/tmp/base/dist/cli/main.js,after=dist/cli/main.js SEB_PROFILE_ROUNDS=3 npm run bench:profile
//
// Then the last build runs each path once more, in a broker of its own under `--cpu-prof`, for the
// top functions by self time of the measured window (startup and warm-up samples are dropped). Each
// broker's idle RSS (just started) and peak RSS (VmHWM) are reported too. Output:
// bench/results/profile-<date>.md or SEB_PROFILE_OUT (and stdout). Loopback only; every run is bounded by SEB_PROFILE_REQUESTS and its rate.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, freePort, memory, startProcess } from './lib/procs.mjs';
import { runLoad } from './lib/load.mjs';
import { summarize } from './lib/report.mjs';
import { topFunctions } from './lib/cpu-profile.mjs';
import { AWS_HEADERS, OPS, PATCH_BODY, PUT_BODY, PUT_SHA256, makeWorld } from './lib/world.mjs';

const RATE = Number(process.env.SEB_PROFILE_RATE ?? 300);
const REQUESTS = Number(process.env.SEB_PROFILE_REQUESTS ?? 1500);
const WARM = Number(process.env.SEB_PROFILE_WARM ?? 600);
const ROUNDS = Number(process.env.SEB_PROFILE_ROUNDS ?? 1);
const TOP = Number(process.env.SEB_PROFILE_TOP ?? 25);
/** Finer than V8's default 1 ms: a request costs about that much, so 1 ms samples would alias it. */
const PROFILE_INTERVAL_US = 200;
const here = fileURLToPath(new URL('.', import.meta.url));
/** `name=path/to/cli/main.js[ node-flag ...]`, comma-separated: the builds (and V8 flags) to compare. */
const builds = (process.env.SEB_PROFILE_CLI ?? `current=${join(here, '../dist/cli/main.js')}`).split(',').map((entry) => {
  const at = entry.indexOf('=');
  const [name, spec] = [entry.slice(0, at), entry.slice(at + 1)];
  const [path, ...flags] = spec.split(' ');
  return { name, cli: resolve(path), flags };
});
/** 0: an AWS-only broker (no kube listener, no Kubernetes client): its idle RSS is a goal of its own. */
const KUBE = process.env.SEB_PROFILE_KUBE !== '0';
const paths = (process.env.SEB_PROFILE_PATHS ?? (KUBE ? 'put,get,patch' : 'put,get')).split(',');
/** Closed-loop certified PutObjects at 32 connections after the paths, for the peak RSS (VmHWM); 0: none. */
const PEAK = Number(process.env.SEB_PROFILE_PEAK ?? 0);
/** 0: no --cpu-prof pass (A/B rounds only). */
const CPUPROF = process.env.SEB_PROFILE_CPUPROF !== '0';

const dir = mkdtempSync(join(tmpdir(), 'seb-profile-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const log = (line) => process.stderr.write(`profile: ${line}\n`);

const world = await makeWorld(dir);
const upstream = await startProcess(process.execPath, [join(here, 'lib/upstream.mjs')], { env: { SEB_BENCH_TLS: JSON.stringify(world.upstreamTls) } });
process.on('exit', () => upstream.child.kill('SIGKILL'));
const ports = upstream.info;

const PATHS = {
  put: {
    title: 'S3 PutObject, certified, cached identity, sign: every',
    listener: 'aws',
    request: { method: 'PUT', path: '/bench/k', headers: { ...AWS_HEADERS, 'x-amz-content-sha256': PUT_SHA256 }, body: PUT_BODY },
    certificates: (n) => world.certificates(OPS.awsPut, n).map((c) => ({ 'x-seb-certificate': c })),
  },
  get: {
    title: 'S3 GetObject, read (read_executor)',
    listener: 'aws',
    request: { method: 'GET', path: '/bench/k', headers: { ...AWS_HEADERS, 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } },
    certificates: null,
  },
  patch: {
    title: 'Kubernetes PATCH, certified, sign: every',
    listener: 'kube',
    request: { method: 'PATCH', path: '/apis/apps/v1/namespaces/default/deployments/web', headers: { 'content-type': 'application/merge-patch+json', accept: 'application/json' }, body: PATCH_BODY },
    certificates: (n) => world.certificates(OPS.kubePatch, n).map((c) => ({ authorization: `Bearer ${c}` })),
  },
};

/** One broker for `keys`: per path, warm it, then measure REQUESTS at RATE (CPU µs per answered request). */
async function measure(build, keys, profileDir, peak = 0) {
  const listen = { aws: await freePort(), kube: await freePort(), admin: await freePort() };
  const config = world.brokerConfig(`${build.name}-${keys.join('-')}`, { ports: listen, upstream: ports, kube: KUBE });
  const flags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-interval=${PROFILE_INTERVAL_US}`] : [];
  // A busy machine can take a while to start a broker: this is not what is measured.
  const broker = await startProcess(process.execPath, [...flags, ...build.flags, build.cli, 'run', '--config', config], { ready: /admin on/, timeoutMs: 120_000 });
  const out = { memory: { idleMiB: memory(broker.child.pid).rssMiB, peakMiB: 0, peakCpuMicros: 0 } };
  try {
    for (const key of keys) {
      const path = PATHS[key];
      const url = `${path.listener === 'kube' ? 'https' : 'http'}://127.0.0.1:${listen[path.listener]}`;
      const headers = path.certificates ? path.certificates(WARM + REQUESTS) : null;
      const next = (offset) => (i) => (headers ? headers[Math.min(offset + i, headers.length - 1)] : {});
      await runLoad({ url, request: path.request, nextHeaders: next(0), connections: 4, seconds: 60, amount: WARM });
      const from = process.hrtime.bigint() / 1000n;
      const cpuBefore = cpuSeconds(broker.child.pid);
      const run = await runLoad({ url, request: path.request, nextHeaders: next(WARM), rate: RATE, seconds: Math.ceil(REQUESTS / RATE) * 3, amount: REQUESTS });
      const cpu = cpuSeconds(broker.child.pid) - cpuBefore;
      const to = process.hrtime.bigint() / 1000n;
      if (run.errors) log(`${build.name} ${key}: ${run.errors} errors ${JSON.stringify({ ...run.statuses, ...run.reasons })}`);
      const stages = Object.fromEntries(Object.entries(run.stages).map(([name, values]) => [name, summarize(values).p50]));
      out[key] = { cpuMicros: (cpu / run.latencies.length) * 1e6, p50: summarize(run.latencies).p50, answered: run.latencies.length, errors: run.errors, stages, window: [Number(from), Number(to)] };
    }
    if (peak > 0) {
      const headers = PATHS.put.certificates(peak);
      const cpuBefore = cpuSeconds(broker.child.pid);
      const run = await runLoad({ url: `http://127.0.0.1:${listen.aws}`, request: PATHS.put.request, nextHeaders: (i) => headers[Math.min(i, peak - 1)], connections: 32, seconds: 120, amount: peak });
      out.memory.peakCpuMicros = ((cpuSeconds(broker.child.pid) - cpuBefore) / run.latencies.length) * 1e6;
    }
    out.memory.peakMiB = memory(broker.child.pid).peakMiB;
  } finally {
    await broker.stop();
  }
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// max_age is capped at 300 s: republish as a SAB would while the rounds run.
const republish = setInterval(world.publishAuthority, 60_000);
const results = {};
const memories = {};
for (let round = 1; round <= ROUNDS; round++) {
  // Interleaved: every build runs every path once per round, under the same load of the machine.
  for (const build of round % 2 ? builds : [...builds].reverse()) {
    const runs = await measure(build, paths, null, PEAK);
    (memories[build.name] ??= []).push(runs.memory);
    log(`round ${round} ${build.name}: idle ${runs.memory.idleMiB.toFixed(1)} MiB, peak ${runs.memory.peakMiB.toFixed(1)} MiB${PEAK ? `, ${Math.round(runs.memory.peakCpuMicros)} µs/req at 32 connections` : ''}`);
    for (const key of paths) {
      const r = runs[key];
      ((results[key] ??= {})[build.name] ??= []).push(r);
      const stages = Object.entries(r.stages).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
      log(`round ${round} ${key} ${build.name}: ${Math.round(r.cpuMicros)} µs/req, p50 ${r.p50.toFixed(3)} ms, ${r.answered} answered; stages p50 ms: ${stages}`);
    }
  }
}

const profiled = builds.at(-1);
const profiles = {};
for (const key of CPUPROF ? paths : []) {
  // Kept (git-ignored) for bench/profile-top.mjs or Chrome's DevTools; one broker per path so that
  // each profile holds that path alone.
  const profileDir = join(here, 'results', 'profile', `${profiled.name}-${key}`);
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
  const r = (await measure(profiled, [key], profileDir))[key];
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  profiles[key] = { run: r, top: topFunctions(JSON.parse(readFileSync(join(profileDir, file), 'utf8')), r.window, TOP) };
}
clearInterval(republish);

const date = new Date().toISOString().slice(0, 10);
const lines = [
  `# Broker CPU per request, ${new Date().toISOString()}`,
  '',
  `Machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, Node ${process.version}. ` +
    `${REQUESTS} measured requests per run at ${RATE} req/s after ${WARM} warm-up requests, one broker per path and run, ` +
    `${ROUNDS} interleaved round(s) of one broker per build. CPU µs/req: the broker's user + system time from /proc over the answered requests. ` +
    'Builds: ' + builds.map((b) => `${b.name} = ${b.cli}${b.flags.length ? ` ${b.flags.join(' ')}` : ''}`).join('; ') + '.',
  '',
  '## CPU µs per request (median of rounds; every run in brackets)',
  '',
  `| path | ${builds.map((b) => b.name).join(' | ')} |`,
  `| --- |${' --- |'.repeat(builds.length)}`,
  ...paths.map((key) => `| ${PATHS[key].title} | ${builds.map((b) => { const runs = results[key][b.name].map((r) => Math.round(r.cpuMicros)); return `${median(runs)} [${runs.join(', ')}]`; }).join(' | ')} |`),
  '',
  `## Memory (MiB, median of rounds; ${KUBE ? 'AWS and Kubernetes' : 'AWS-only'} broker; peak: VmHWM after the paths${PEAK ? ` and ${PEAK} certified PutObjects at 32 connections` : ''})`,
  '',
  `| | ${builds.map((b) => b.name).join(' | ')} |`,
  `| --- |${' --- |'.repeat(builds.length)}`,
  ...[['idle RSS', 'idleMiB', 1], ['peak RSS', 'peakMiB', 1], ...(PEAK ? [['CPU µs/req at 32 connections', 'peakCpuMicros', 0]] : [])].map(
    ([title, field, digits]) => `| ${title} | ${builds.map((b) => { const xs = memories[b.name].map((m) => m[field]); return `${median(xs).toFixed(digits)} [${xs.map((x) => x.toFixed(digits)).join(', ')}]`; }).join(' | ')} |`,
  ),
  '',
  `## Stages (Server-Timing p50 ms, build ${profiled.name}, last round)`,
  '',
  ...paths.flatMap((key) => {
    const stages = results[key][profiled.name].at(-1).stages;
    return [`- ${PATHS[key].title}: ${Object.entries(stages).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ') || '(none)'}`];
  }),
  '',
  `## Top functions by self time (build ${profiled.name}, under --cpu-prof, measured window only)`,
  ...Object.keys(profiles).flatMap((key) => {
    const { run, top } = profiles[key];
    return ['', `### ${PATHS[key].title}: ${Math.round(run.cpuMicros)} µs/req under the profiler, ${(top.totalUs / 1000).toFixed(0)} ms busy sampled`, '', top.table];
  }),
];
const markdown = `${lines.join('\n')}\n`;
writeFileSync(process.env.SEB_PROFILE_OUT ?? join(here, 'results', `profile-${date}.md`), markdown);
process.stdout.write(markdown);
upstream.child.kill('SIGTERM');
process.exit(0);
