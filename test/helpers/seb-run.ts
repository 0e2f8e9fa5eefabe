/**
 * `seb run` as a real child process (the built binary) against moto: a deployment directory with
 * keys, authority state and config files made by the test, the broker's ports read from its
 * start-up line, its record lines collected from stdout.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { startBroker } from '../../src/server/broker.js';
import type { AwsOp } from '../../src/certificate/types.js';
import { issueAuthority, issueCert, LONG_MAX_AGE_S, makeKey, writeKey, TEST_AUD, TEST_ISS, type CertOptions } from './pki.js';
import type { Test } from 'tap';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startMoto, type Moto } from './moto.js';

export const SEB = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 45_000;
const READY_LINE = /^seb: broker .*; aws on ([^;\s]+)(?:; kube on [^;\s]+)?; admin on (\S+)$/m;

export interface Deployment {
  readonly dir: string;
  /** The broker's public record-signing JWKS (the input of `seb records verify --key`). */
  readonly brokerJwks: string;
  cert(ops: unknown[], o?: CertOptions): Promise<{ jws: string; jti: string }>;
  /** Writes a `seb run` config for one broker (top-level keys of `extra` replace the generated ones). */
  config(name: string, extra?: Record<string, unknown>): string;
  close(): void;
}

/** Keys, trust and authority shared by every broker of one deployment (replicas share the same key). */
export async function makeDeployment(moto: Moto): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'seb-run-'));
  const issuer = makeKey();
  const issuerFiles = writeKey(join(dir, 'issuer'), issuer);
  const brokerFiles = writeKey(join(dir, 'broker'), makeKey('broker-1'));
  const authorityPath = join(dir, 'authority.jws');
  writeFileSync(authorityPath, await issueAuthority(issuer, { maxAge: LONG_MAX_AGE_S }));
  return {
    dir,
    brokerJwks: brokerFiles.jwksPath,
    cert: (ops, o) => issueCert(issuer, ops, o),
    config(name, extra = {}) {
      const path = join(dir, `${name}.yaml`);
      const config = {
        broker: { id: name, audience: TEST_AUD, signing_key: brokerFiles.privatePath },
        listen: { aws: '127.0.0.1:0', admin: '127.0.0.1:0' },
        trust: { issuers: [{ iss: TEST_ISS, jwks: issuerFiles.jwksPath }] },
        authority: { iss: TEST_ISS, file: authorityPath, max_age_cap: LONG_MAX_AGE_S },
        read_executor: 'reader',
        executors: { all: { aws: { role_arn: moto.roles.all } }, reader: { aws: { role_arn: moto.roles.reader } } },
        aws: {
          credentials: { access_key_id: moto.broker.accessKeyId, secret_access_key: moto.broker.secretAccessKey },
          endpoints: { default: moto.endpoint },
          allow_insecure_endpoints: true,
        },
        ...extra,
      };
      writeFileSync(path, stringify(config));
      return path;
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** moto, a deployment against it and an admin S3 client with `bucket` made, all closed in teardown. */
export async function motoDeployment(t: Test, bucket: string): Promise<{ moto: Moto; deployment: Deployment; admin: S3Client }> {
  const moto = await startMoto();
  t.teardown(() => moto.stop());
  const deployment = await makeDeployment(moto);
  t.teardown(() => deployment.close());
  const admin = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials: moto.admin, forcePathStyle: true });
  t.teardown(() => admin.destroy());
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  return { moto, deployment, admin };
}

/**
 * The ops `call`'s mutations need, from a capturing broker built in process from `configPath`
 * (what `seb op capture` does); `call` gets the capturing broker's AWS URL.
 */
export async function captureOps(configPath: string, account: string, call: (url: string) => Promise<unknown>): Promise<AwsOp[]> {
  const ops: AwsOp[] = [];
  const sink = new PassThrough();
  sink.resume();
  const capturing = await startBroker(await loadConfigFile(configPath), {
    recordsOut: sink,
    log: () => {},
    capture: (op) => ops.push(op as AwsOp) - 1,
    captureAccount: account,
  });
  try {
    await call(`http://127.0.0.1:${capturing.aws!.port}`).catch(() => undefined);
  } finally {
    await capturing.close();
  }
  return ops;
}

export interface SebRun {
  readonly child: ChildProcessWithoutNullStreams;
  /** `http://127.0.0.1:PORT` of the AWS listener. */
  readonly aws: string;
  readonly admin: string;
  /** Record lines written to stdout so far. */
  readonly records: string[];
  stderr(): string;
  /** Exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Teardown: SIGTERM, then SIGKILL if it has not exited in time. */
  stop(): Promise<number | string>;
}

export async function startSebRun(configPath: string): Promise<SebRun> {
  const child = spawn(process.execPath, [SEB, 'run', '--config', configPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  const records: string[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    records.push(...lines.filter(Boolean));
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const stop = async (): Promise<number | string> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let ready: RegExpExecArray | null;
  while ((ready = READY_LINE.exec(stderr)) === null) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`seb run did not start (exit ${child.exitCode}): ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, aws: `http://${ready[1]}`, admin: `http://${ready[2]}`, records, stderr: () => stderr, exited, stop };
}
