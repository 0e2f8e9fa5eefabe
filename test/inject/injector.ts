/**
 * `seb inject` as a real child process (the built CLI) with a serving pair the test makes, and an
 * HTTPS client that trusts the test's CA.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueServingCert, makeLocalCa, type LocalCa } from '../../src/targets/kube/local-pki.js';

const SEB = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const READY_MS = 30_000;
const STOP_MS = 15_000;
/** The name the apiserver checks for a webhook behind Service seb-system/seb-injector. */
export const SERVICE_HOST = 'seb-injector.seb-system.svc';

export interface TlsFiles {
  readonly ca: LocalCa;
  readonly certPath: string;
  readonly keyPath: string;
}

/** A CA and a serving pair for `hosts`, written as `<name>.crt` / `<name>.key` in `dir`. */
export async function servingPair(dir: string, name: string, hosts: readonly string[], ca?: LocalCa): Promise<TlsFiles> {
  const authority = ca ?? (await makeLocalCa(`${name} test CA`));
  const pair = await issueServingCert(authority, hosts);
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  writeFileSync(certPath, pair.certPem);
  writeFileSync(keyPath, pair.keyPem, { mode: 0o600 });
  return { ca: authority, certPath, keyPath };
}

export interface Injector {
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  stderr(): string;
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL if it has not exited in time; resolves to the exit code or signal. */
  stop(): Promise<number | string>;
}

export async function startInjector(tls: TlsFiles, extra: readonly string[] = []): Promise<Injector> {
  const child = spawn(process.execPath, [SEB, 'inject', '--tls-cert', tls.certPath, '--tls-key', tls.keyPath, '--listen', '127.0.0.1:0', ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  child.stdout.resume();
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const stop = async (): Promise<number | string> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };
  const deadline = Date.now() + READY_MS;
  let m: RegExpExecArray | null;
  while ((m = /listening on 127\.0\.0\.1:(\d+);/.exec(stderr)) === null) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`seb inject did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, port: Number(m[1]), stderr: () => stderr, exited, stop };
}

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** One HTTPS request to 127.0.0.1:`port`, verifying the server as `servername` against `caPem`. */
export function https(port: number, caPem: string, opts: { method?: string; path: string; body?: Buffer | string; headers?: Record<string, string>; servername?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path,
        ca: caPem,
        servername: opts.servername ?? SERVICE_HOST,
        headers: opts.headers ?? {},
        agent: false,
        timeout: 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}
