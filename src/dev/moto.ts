/**
 * A real moto_server on a free loopback port, with signature checking on, holding the broker's IAM
 * user and the executor roles of the deployment model (SPEC §11): roles trust only the broker user,
 * the broker user may only assume them. `seb dev` serves it as the local AWS upstream; the
 * end-to-end tests start one each (test/helpers/moto.ts). Callers must call `stop`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { IAMClient } from '@aws-sdk/client-iam';

/** How to get moto_server, for `seb dev` and for the tests that need it. */
export const MOTO_INSTALL_HINT = "pip install 'moto[server]'";

export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface Moto {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  /** moto's default account. */
  readonly account: string;
  /** The broker's IAM user `seb-broker`: may only assume the executor roles. */
  readonly broker: AccessKey;
  /** Executor role ARNs. */
  readonly roles: { readonly all: string; readonly s3: string; readonly reader: string };
  /** An administrator's keys, for tests to set up and inspect state. */
  readonly admin: AccessKey;
  /** The moto_server process, so a caller can check that `stop` left nothing behind. */
  readonly pid: number;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;
const ACCOUNT = '123456789012';
const OUTPUT_TAIL_CHARS = 2_000;

// Every action: the broker's session policy narrows each request to what its op names (SPEC §5),
// so the sandbox's role need not guess which services an agent will try.
const ALL_ACTIONS = ['*'];
const S3_ACTIONS = ['s3:*'];
const READ_ACTIONS = [
  's3:Get*', 's3:List*',
  'ec2:Describe*',
  'iam:Get*', 'iam:List*',
  'dynamodb:Describe*', 'dynamodb:Get*', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:List*',
  'lambda:Get*', 'lambda:List*',
];

function allow(actions: readonly string[], resources: string | readonly string[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resources }] });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// moto binds port 0 itself and prints the port it got: picking a free port first and passing it
// would race any other process that binds in between, and the probe would then reach that process.
const LISTENING = /Running on http:\/\/127\.0\.0\.1:(\d+)/;

/** Waits until moto prints its port and answers there, or fails with what the process printed. */
async function waitUntilAnswering(child: ChildProcess, tail: () => string): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`moto_server exited (${child.exitCode ?? child.signalCode}) before answering: ${tail()}`);
    }
    const port = LISTENING.exec(tail())?.[1];
    if (port !== undefined) {
      const endpoint = `http://127.0.0.1:${port}`;
      try {
        // GET on reset-auth changes nothing (moto answers 400 "Need to POST"): a pure liveness probe.
        await fetch(`${endpoint}/moto-api/reset-auth`, { signal: AbortSignal.timeout(1_000) });
        return endpoint;
      } catch {
        // Printed before the socket accepts; try again.
      }
    }
    await sleep(100);
  }
  throw new Error(`moto_server did not answer within ${START_TIMEOUT_MS / 1000} s: ${tail()}`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  // A crashed test process must not leave moto behind.
  const onExit = (): void => void child.kill('SIGKILL');
  process.once('exit', onExit);
  let stopping: Promise<void> | null = null;
  return () => {
    stopping ??= new Promise<void>((resolve) => {
      process.removeListener('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
    return stopping;
  };
}

async function createKey(iam: IAMClient, userName: string): Promise<AccessKey> {
  const { CreateAccessKeyCommand } = await import('@aws-sdk/client-iam');
  const out = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
  const key = out.AccessKey;
  if (!key?.AccessKeyId || !key.SecretAccessKey) throw new Error(`moto returned no access key for ${userName}`);
  return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
}

async function setUp(endpoint: string): Promise<Omit<Moto, 'endpoint' | 'account' | 'pid' | 'stop'>> {
  // Loaded here, not at the top: every `seb` command imports this module through `seb dev`.
  const { CreateRoleCommand, CreateUserCommand, IAMClient, PutRolePolicyCommand, PutUserPolicyCommand } = await import('@aws-sdk/client-iam');
  const iam = new IAMClient({
    endpoint,
    region: 'us-east-1',
    // Auth is still off during setup; moto ignores these.
    credentials: { accessKeyId: 'setup', secretAccessKey: 'setup' },
    maxAttempts: 1,
  });
  try {
    const brokerUser = (await iam.send(new CreateUserCommand({ UserName: 'seb-broker' }))).User?.Arn;
    if (!brokerUser) throw new Error('moto returned no user ARN for seb-broker');
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: brokerUser },
          Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
        },
      ],
    });
    const roles = { all: '', s3: '', reader: '' };
    const roleSpecs = [
      ['all', 'seb-exec-all', ALL_ACTIONS],
      ['s3', 'seb-exec-s3', S3_ACTIONS],
      ['reader', 'seb-reader', READ_ACTIONS],
    ] as const;
    for (const [slot, name, actions] of roleSpecs) {
      const arn = (await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }))).Role?.Arn;
      if (!arn) throw new Error(`moto returned no role ARN for ${name}`);
      await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'permissions', PolicyDocument: allow(actions, '*') }));
      roles[slot] = arn;
    }
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'seb-broker',
        PolicyName: 'assume-executors',
        PolicyDocument: allow(['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'], [roles.all, roles.s3, roles.reader]),
      }),
    );
    const broker = await createKey(iam, 'seb-broker');
    await iam.send(new CreateUserCommand({ UserName: 'seb-admin' }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'seb-admin', PolicyName: 'admin', PolicyDocument: allow(['*'], '*') }));
    const admin = await createKey(iam, 'seb-admin');
    return { broker, roles, admin };
  } finally {
    iam.destroy();
  }
}

/**
 * Authentication is switched on after setup with `POST /moto-api/reset-auth` and body `0`, rather
 * than by counting setup calls into INITIAL_NO_AUTH_ACTION_COUNT: moto counts only calls that pass
 * its auth hook, so an exact count silently breaks when setup changes. moto then checks the
 * SigV4 signature of every later call (asserted in test/targets/aws/sign-moto.test.ts).
 */
async function enableAuth(endpoint: string): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`moto reset-auth answered ${res.status}: ${text}`);
}

/**
 * moto runs a Lambda function's code in docker, which cannot run here (no daemon, no image pulls):
 * every `lambda invoke` would answer a docker error. Its docker-less backend answers every invoke
 * with `Simple Lambda happy path OK` (or its queued results) without running code: enough for the
 * broker's part, which is the certified Invoke request and its relayed answer, not the function.
 */
async function runLambdaWithoutDocker(endpoint: string): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/config`, { method: 'POST', body: JSON.stringify({ lambda: { use_docker: false } }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`moto config answered ${res.status}: ${text}`);
}

/** Absolute path of `cmd` on PATH, or null. */
export function findOnPath(cmd: string, path = process.env['PATH'] ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(isAbsolute(dir) ? dir : resolve(dir), cmd);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not in this directory; keep looking.
    }
  }
  return null;
}

/**
 * moto 5 recomputes SigV4 signatures from the request as it parsed it, not as it came off the wire,
 * in two ways that reject correctly signed requests from any client:
 * - werkzeug's IRI decoding turns a query value's `%2F` (and every escape but `%&;=+#`) back into
 *   its character (`aws s3 ls s3://b/`: `prefix=d%2F&delimiter=%2F`);
 * - a request with no body (a REST GET such as `aws lambda get-function`) has its query, or failing
 *   that its headers, stored as its parameters, and moto hashes those, urlencoded, as the payload;
 *   clients that sign `x-amz-content-sha256` (S3, the JS SDK) escape this, the aws CLI elsewhere
 *   does not. (A form body is parsed into the same parameters and hashed re-encoded: left alone.)
 * Python imports `sitecustomize` at start-up from PYTHONPATH; this one makes moto's check use the
 * query exactly as sent (the WSGI `RAW_URI`) and the payload exactly as sent (an empty body hashes
 * as empty). Nothing is switched off: moto still checks every signature and every IAM policy, and
 * now checks them as AWS does.
 */
const AS_SENT_PATCH = `
from urllib.parse import urlsplit
from moto.core.authorization import ActionAuthenticatorMixin

_check = ActionAuthenticatorMixin._authenticate_and_authorize_action

def _as_sent(self, iam_request_cls, resource="*"):
    from flask import has_request_context, request
    raw = request.environ.get("RAW_URI") if has_request_context() else None
    parsed = (self.uri, self.data)
    if raw:
        self.uri = urlsplit(self.uri)._replace(query=urlsplit(raw).query).geturl()
    if not self.raw_body and not self.form_data:
        self.data = {}
    try:
        return _check(self, iam_request_cls, resource)
    finally:
        self.uri, self.data = parsed

ActionAuthenticatorMixin._authenticate_and_authorize_action = _as_sent
`;

/** Starts `bin` (the moto_server executable) and sets up IAM; at most START_TIMEOUT_MS to answer. */
export async function startMoto(bin: string): Promise<Moto> {
  const patchDir = mkdtempSync(join(tmpdir(), 'seb-moto-'));
  writeFileSync(join(patchDir, 'sitecustomize.py'), AS_SENT_PATCH);
  const pythonPath = [patchDir, process.env['PYTHONPATH']].filter((p) => p !== undefined && p !== '').join(delimiter);
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', '0'], {
    // inf: no authentication until enableAuth(), however many calls setup makes.
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: 'inf', PYTHONPATH: pythonPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Python has read the file once moto answers; the directory goes with the process either way.
  child.once('exit', () => rmSync(patchDir, { recursive: true, force: true }));
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = stopper(child);
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  // Handled by the race below; a late 'error' after start-up must not become an unhandled rejection.
  spawnFailed.catch(() => undefined);
  try {
    const endpoint = await Promise.race([waitUntilAnswering(child, () => output), spawnFailed]);
    const state = await setUp(endpoint);
    await runLambdaWithoutDocker(endpoint);
    await enableAuth(endpoint);
    // A spawn that failed has no pid; spawnFailed has already thrown then.
    return { endpoint, account: ACCOUNT, ...state, pid: child.pid ?? 0, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
