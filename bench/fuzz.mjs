// `npm run fuzz`: every property in test/fuzz/*.test.ts at SEB_FUZZ_RUNS cases each (default
// 100000; `npm test` runs the same files at a few hundred). One target (file) at a time, each in its
// own tap process bounded by SEB_FUZZ_TARGET_SECONDS (default 1800) and killed with its children
// when over. Prints, per property, the cases run, the outcome, the seed (replay a failure with
// SEB_FUZZ_SEED=<seed>, and SEB_FUZZ_PATH=<path> to skip straight to the shrunk case) and the
// duration; exits 1 on any failure, timeout or property that did not report.
//
//   npm run fuzz                      all targets
//   npm run fuzz -- jcs records       only these targets
//   SEB_FUZZ_RUNS=1000 npm run fuzz   a quicker pass
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = process.env.SEB_FUZZ_RUNS ?? '100000';
const TARGET_SECONDS = Number(process.env.SEB_FUZZ_TARGET_SECONDS ?? 1800);
const root = fileURLToPath(new URL('..', import.meta.url));
const fuzzDir = join(root, 'test', 'fuzz');
const tap = join(root, 'node_modules', '.bin', 'tap');

const wanted = process.argv.slice(2);
const targets = readdirSync(fuzzDir)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -'.test.ts'.length))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();
if (targets.length === 0) {
  process.stderr.write(`fuzz: no target matches ${wanted.join(' ')}\n`);
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'seb-fuzz-'));
const children = new Set();
const cleanup = () => {
  for (const child of children) killGroup(child);
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Runs one target; resolves with its exit code (null on timeout) and its TAP output. */
function runTarget(name, report) {
  return new Promise((resolve) => {
    const child = spawn(tap, ['--reporter=tap', `--timeout=${TARGET_SECONDS}`, join('test', 'fuzz', `${name}.test.ts`)], {
      cwd: root,
      env: { ...process.env, SEB_FUZZ_RUNS: RUNS, SEB_FUZZ_REPORT: report },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout kills tap, the test process and any peer it started.
      detached: true,
    });
    children.add(child);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, (TARGET_SECONDS + 60) * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: timedOut ? null : code, output });
    });
  });
}

const pad = (s, n) => String(s).padEnd(n);
const log = (line) => process.stdout.write(`${line}\n`);
log(`fuzz: ${targets.length} targets, ${RUNS} cases per property, at most ${TARGET_SECONDS} s per target`);
log(`${pad('target', 16)} ${pad('property', 40)} ${pad('cases', 8)} ${pad('result', 6)} ${pad('seed', 12)} time`);

let failed = 0;
let cases = 0;
const started = Date.now();
for (const name of targets) {
  const report = join(work, `${name}.jsonl`);
  const t0 = Date.now();
  const { code, output } = await runTarget(name, report);
  let lines = [];
  try {
    lines = readFileSync(report, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    // No report: the target crashed before any property finished; caught below.
  }
  for (const p of lines) {
    cases += p.cases;
    if (p.failed) failed++;
    const path = p.failed && p.path ? ` path ${p.path}` : '';
    log(`${pad(p.target, 16)} ${pad(p.property, 40)} ${pad(p.cases, 8)} ${pad(p.failed ? 'FAIL' : 'ok', 6)} ${pad(p.seed, 12)} ${(p.ms / 1000).toFixed(1)} s${path}`);
  }
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (code !== 0 || lines.length === 0) {
    failed++;
    const why = code === null ? `timed out after ${TARGET_SECONDS} s` : lines.length === 0 ? 'reported no property' : `tap exited ${code}`;
    log(`${pad(name, 16)} ${why} (${seconds} s); its output ends:`);
    log(output.split('\n').slice(-60).join('\n'));
  } else {
    log(`${pad(name, 16)} done in ${seconds} s`);
  }
}
const minutes = ((Date.now() - started) / 60000).toFixed(1);
log(`fuzz: ${cases} cases in ${minutes} min, ${failed} failure${failed === 1 ? '' : 's'}`);
process.exit(failed === 0 ? 0 : 1);
