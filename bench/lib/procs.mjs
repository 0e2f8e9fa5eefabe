// Child processes of the benchmark and what they cost: CPU time and resident memory from /proc.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';

const TICKS_PER_SECOND = 100;
const START_TIMEOUT_MS = 20_000;

/** Starts `cmd` and waits for its first stdout line (JSON) or for `ready` to match stderr. */
export function startProcess(cmd, args, { env = {}, ready = null, timeoutMs = START_TIMEOUT_MS } = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', () => child.kill('SIGKILL'));
  let err = '';
  child.stderr.on('data', (chunk) => {
    err = (err + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${cmd} did not start within ${timeoutMs / 1000} s: ${err}`)), timeoutMs);
    const fail = (e) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    child.once('exit', (code) => fail(new Error(`${cmd} exited (${code}): ${err}`)));
    let started = false;
    const done = (info) => {
      if (started) return;
      started = true;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      // A broker's stdout carries its records: drain it once started.
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      resolve({ child, info, stop: () => stopProcess(child) });
    };
    if (ready) {
      child.stderr.on('data', () => ready.test(err) && done(null));
    } else {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const nl = out.indexOf('\n');
        if (nl >= 0) done(JSON.parse(out.slice(0, nl)));
      });
    }
  });
}

export function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The process and its descendants (nginx's workers). */
function tree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(entry)[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]) ?? []));
  return all;
}

/** Fields of /proc/PID/stat after the command name (state is [0], ppid [1], utime [11], stime [12]). */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system) used so far by the process tree. */
export function cpuSeconds(pid) {
  let ticks = 0;
  for (const p of tree(pid)) {
    try {
      const f = statFields(p);
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // Gone.
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** Resident and peak resident memory of the process tree, MiB. */
export function memory(pid) {
  let rss = 0;
  let peak = 0;
  for (const p of tree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // Gone.
    }
  }
  return { rssMiB: rss / 1024, peakMiB: peak / 1024 };
}
