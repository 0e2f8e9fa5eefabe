/**
 * Starts a real broker in-process on loopback ports, with keys, trust, authority and config made
 * for the test, and collects its records.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { startBroker, type RunningBroker } from '../../src/server/broker.js';
import { issueAuthority, issueCert, LONG_MAX_AGE_S, makeKey, writeKey, TEST_AUD, TEST_ISS, type AuthorityOptions, type CertOptions, type TestKey } from './pki.js';
import type { Moto } from './moto.js';
import type { AwsOp, Op } from '../../src/certificate/types.js';

export interface TestBroker {
  readonly url: string;
  readonly adminUrl: string;
  readonly dir: string;
  readonly configPath: string;
  readonly issuer: TestKey;
  readonly brokerKey: TestKey;
  readonly broker: RunningBroker;
  /** Record lines written so far. */
  readonly records: string[];
  cert(ops: unknown[], o?: CertOptions): Promise<{ jws: string; jti: string }>;
  /**
   * Runs `call` against a capturing broker built from the same config (`seb op capture` in
   * process) and returns the ops its mutations would need.
   */
  capture(call: (url: string, kubeconfig: string) => Promise<unknown>): Promise<Op[]>;
  /** Captures the ops `call` needs, certifies exactly those, then runs `call` with the certificate. */
  certified<T>(call: (url: string, token: string) => Promise<T>, o?: CertOptions): Promise<{ result: T; ops: Op[]; jti: string }>;
  /** Publishes a new authority state through the file source and waits until it is in force. */
  publishAuthority(o: AuthorityOptions): Promise<void>;
  close(): Promise<void>;
}

export interface TestBrokerOptions {
  /** Merged over the generated config (top-level keys replace). */
  readonly config?: Record<string, unknown>;
  readonly authority?: AuthorityOptions;
  /** Where the broker writes records instead of the collecting stream (sink-failure tests). */
  readonly recordsOut?: NodeJS.WritableStream;
}

export async function startTestBroker(moto: Moto | null, o: TestBrokerOptions = {}): Promise<TestBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'seb-test-'));
  const issuer = makeKey();
  const brokerKey = makeKey('broker-1');
  const issuerFiles = writeKey(join(dir, 'issuer'), issuer);
  const brokerFiles = writeKey(join(dir, 'broker'), brokerKey);
  const authorityPath = join(dir, 'authority.jws');
  // A file that outlives the longest test on a loaded machine unless the test says otherwise (a
  // SAB republishes well before max_age; the tests of staleness set their own).
  writeFileSync(authorityPath, await issueAuthority(issuer, o.authority ?? { maxAge: LONG_MAX_AGE_S }));
  const config: Record<string, unknown> = {
    broker: { id: 'seb-test', audience: TEST_AUD, signing_key: brokerFiles.privatePath },
    listen: { aws: '127.0.0.1:0', kube: '127.0.0.1:0', admin: '127.0.0.1:0' },
    trust: { issuers: [{ iss: TEST_ISS, jwks: issuerFiles.jwksPath }] },
    authority: { iss: TEST_ISS, file: authorityPath, ...(o.authority ? {} : { max_age_cap: LONG_MAX_AGE_S }) },
    reads: 'allow',
    read_executor: 'reader',
    executors: moto
      ? { all: { aws: { role_arn: moto.roles.all } }, s3only: { aws: { role_arn: moto.roles.s3 } }, reader: { aws: { role_arn: moto.roles.reader } } }
      : {
          all: { aws: { role_arn: 'arn:aws:iam::123456789012:role/seb-exec-all' } },
          reader: { aws: { role_arn: 'arn:aws:iam::123456789012:role/seb-reader' } },
        },
    aws: {
      credentials: moto ? { access_key_id: moto.broker.accessKeyId, secret_access_key: moto.broker.secretAccessKey } : { access_key_id: 'AKIDTEST', secret_access_key: 'secret' },
      endpoints: { default: moto ? moto.endpoint : 'http://127.0.0.1:9' },
      allow_insecure_endpoints: true,
    },
    ...o.config,
  };
  const configPath = join(dir, 'seb.yaml');
  writeFileSync(configPath, stringify(config));
  const records: string[] = [];
  const out = new PassThrough();
  let partial = '';
  out.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    records.push(...lines.filter(Boolean));
  });
  const broker = await startBroker(await loadConfigFile(configPath), { recordsOut: o.recordsOut ?? out, log: () => {} });
  let seq = o.authority?.seq ?? 1;
  const tb: TestBroker = {
    url: `http://127.0.0.1:${broker.aws!.port}`,
    adminUrl: `http://127.0.0.1:${broker.admin.port}`,
    dir,
    configPath,
    issuer,
    brokerKey,
    broker,
    records,
    cert: (ops, co) => issueCert(issuer, ops, co),
    async capture(call) {
      const ops: Op[] = [];
      const sink = new PassThrough();
      sink.resume();
      const config = await loadConfigFile(configPath);
      // The capturing broker writes its own kubeconfig, never over the real broker's.
      const captureDir = mkdtempSync(join(dir, 'capture-'));
      const capturing = await startBroker(config.kube ? { ...config, kube: { ...config.kube, client_dir: captureDir } } : config, {
        recordsOut: sink,
        log: () => {},
        capture: (op) => ops.push(op) - 1,
        captureAccount: moto?.account ?? '123456789012',
      });
      try {
        await call(`http://127.0.0.1:${capturing.aws!.port}`, join(captureDir, 'kubeconfig')).catch(() => undefined);
      } finally {
        await capturing.close();
      }
      return ops;
    },
    async certified(call, co) {
      const ops = await tb.capture((url) => call(url, 'placeholder-token'));
      if (ops.length === 0) throw new Error('the call made no mutation to certify');
      const { jws, jti } = await issueCert(issuer, ops, co);
      return { result: await call(tb.url, jws), ops, jti };
    },
    async publishAuthority(ao) {
      seq = ao.seq ?? seq + 1;
      writeFileSync(authorityPath, await issueAuthority(issuer, { ...(o.authority ? {} : { maxAge: LONG_MAX_AGE_S }), ...ao, seq }));
      // The file source polls at most every second; wait until readiness reflects the new state.
      await new Promise((r) => setTimeout(r, 1300));
    },
    async close() {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return tb;
}

/** The one AWS op a capture produced; anything else is a broken test set-up. */
export function onlyAwsOp(ops: readonly Op[]): AwsOp {
  const [op, ...more] = ops;
  if (op === undefined || more.length > 0) throw new Error(`expected one captured op, got ${ops.length}`);
  if (op.target !== 'aws') throw new Error(`expected an AWS op, got a ${op.target} one`);
  return op;
}
