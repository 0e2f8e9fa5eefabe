/**
 * The real kubectl 1.32 as a child process, against a stand-in apiserver (./kube.ts) or a rendered
 * kustomization. Kept apart from ./kube.ts so a test that needs only the in-process apiserver stays
 * in the unit suite (scripts/test-suites.mjs classifies by what a test imports).
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { requirePeer } from './peers.js';
import { until } from './until.js';

const KUBECTL = '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';

/** The real, versioned kubectl (the one on PATH is a version-choosing wrapper). */
export function kubectl(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = requirePeer(KUBECTL, 'apt-get install kubectl (the tests call the versioned kubectl.1.32 binary)');
  return new Promise((resolve) => {
    execFile(bin, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

export interface BackgroundKubectl {
  readonly child: ChildProcessWithoutNullStreams;
  /** The exit code, or the signal's name when it was killed. */
  readonly exited: Promise<number | string>;
  out(): string;
  err(): string;
}

/** The real kubectl in the background (exec sessions, attach, port-forward), its output collected. */
export function kubectlInBackground(args: readonly string[]): BackgroundKubectl {
  const bin = requirePeer(KUBECTL, 'apt-get install kubectl (the tests call the versioned kubectl.1.32 binary)');
  const child = spawn(bin, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { child, exited, out: () => stdout, err: () => stderr };
}

/** Waits for a background kubectl to exit, for at most `ms` (it is killed then). */
export async function exitWithin(run: BackgroundKubectl, ms: number): Promise<number | string> {
  const timer = setTimeout(() => run.child.kill(), ms);
  const code = await run.exited;
  clearTimeout(timer);
  return code;
}

/** The local port `kubectl port-forward` listens on, once it says so (null if it did not in `ms`). */
export async function forwardedPort(run: BackgroundKubectl, ms: number): Promise<number | null> {
  const port = (): RegExpExecArray | null => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(run.out());
  await until(() => port() !== null || run.child.exitCode !== null, ms);
  const m = port();
  return m === null ? null : Number(m[1]);
}
