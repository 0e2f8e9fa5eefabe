/**
 * A stand-in apiserver (src/dev/apiserver) with a broker identity allowed to impersonate, and a
 * kubeconfig for the broker, all made for the test.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { stringify } from 'yaml';
import { startStandInApiserver, type StandInApiserver } from '../../src/dev/apiserver/server.js';
import type { StreamOptions } from '../../src/dev/apiserver/streams.js';
import type { RbacRule } from '../../src/dev/apiserver/auth.js';
import { issueServingCert, makeLocalCa } from '../../src/targets/kube/local-pki.js';
import { requirePeer } from './peers.js';
import { until } from './until.js';

export const BROKER_TOKEN = 'broker-token';
export const ADMIN_TOKEN = 'admin-token';

export interface KubeWorld {
  readonly api: StandInApiserver;
  /** The broker's own kubeconfig (its token may impersonate the executors). */
  readonly brokerKubeconfig: string;
  /** A kubeconfig that talks to the stand-in directly as an administrator (to set up and inspect). */
  readonly adminKubeconfig: string;
  close(): Promise<void>;
}

export interface KubeWorldOptions extends StreamOptions {
  readonly afterResponse?: (request: { method: string; path: string; user: string }) => void;
  /** What reached the stand-in, as it arrives (StandInOptions.onRequest). */
  readonly onRequest?: (request: { method: string; path: string; upgrade: boolean }) => void | Promise<void>;
  /** What the broker's own identity may do besides impersonating (e.g. read an authority ConfigMap). */
  readonly brokerRules?: readonly RbacRule[];
}

export async function startKubeWorld(dir: string, options: KubeWorldOptions = {}): Promise<KubeWorld> {
  const { afterResponse, onRequest, brokerRules, ...streams } = options;
  const ca = await makeLocalCa('stand-in apiserver CA');
  const tls = await issueServingCert(ca, ['127.0.0.1']);
  const caPath = join(dir, 'apiserver-ca.crt');
  writeFileSync(caPath, ca.certPem);
  const api = await startStandInApiserver({
    tls,
    tokens: { [BROKER_TOKEN]: { user: 'seb-broker', groups: [] }, [ADMIN_TOKEN]: { user: 'admin', groups: ['system:masters'] } },
    impersonators: ['seb-broker'],
    rbac: {
      ...(brokerRules ? { 'seb-broker': brokerRules } : {}),
      'system:masters': [{ verbs: ['*'], resources: ['*'] }],
      'seb:executors': [{ verbs: ['*'], resources: ['*'] }],
      'seb:reader': [{ verbs: ['get', 'list', 'watch'], resources: ['*'] }],
    },
    ...(afterResponse ? { afterResponse } : {}),
    ...(onRequest ? { onRequest } : {}),
    ...streams,
  });
  const kubeconfig = (name: string, token: string): string => {
    const path = join(dir, `${name}.kubeconfig`);
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'standin', cluster: { server: api.url, 'certificate-authority': caPath } }],
        users: [{ name, user: { token } }],
        contexts: [{ name, context: { cluster: 'standin', user: name } }],
        'current-context': name,
      }),
    );
    return path;
  };
  return { api, brokerKubeconfig: kubeconfig('broker', BROKER_TOKEN), adminKubeconfig: kubeconfig('admin', ADMIN_TOKEN), close: () => api.close() };
}

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

/** Broker config for the kube target against `world`: executors with k8s profiles, its client dir. */
export function kubeBrokerConfig(world: KubeWorld, clientDir: string): Record<string, unknown> {
  return {
    executors: {
      all: { aws: { role_arn: 'arn:aws:iam::123456789012:role/seb-exec-all' }, k8s: { user: 'seb:executor:deployer', groups: ['seb:executors'] } },
      reader: { aws: { role_arn: 'arn:aws:iam::123456789012:role/seb-reader' }, k8s: { user: 'seb:reader', groups: ['seb:reader'] } },
    },
    kube: { kubeconfig: world.brokerKubeconfig, client_dir: clientDir },
  };
}
