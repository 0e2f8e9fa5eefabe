/**
 * The agent's side of `seb dev --demo`: the unmodified clients an agent runs. Kubernetes requests
 * go through the real kubectl when it is installed, else as plain HTTPS requests from node with the
 * same kubeconfig (server, CA, bearer token); AWS requests through the real `aws` CLI. Each answer
 * is reduced to what the walkthrough prints: admitted or not, the broker's reason code, one line.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { shellQuote } from './instructions.js';
import { findOnPath } from './moto.js';

/** The kubectl the project is tested with (README "Set-up"). */
const KUBECTL_VERSION = '1.32';
const CLIENT_TIMEOUT_MS = 60_000;
const MAX_ANSWER_BYTES = 1024 * 1024;
/** The broker's denial message (server/responses.ts), as kubectl and the aws CLI print it. */
const DENIAL = /seb denied the request: ([a-z_]+)/;

export interface AgentResult {
  /** The client succeeded (exit 0, or a 2xx answer). */
  readonly ok: boolean;
  /** The broker's reason code when it denied the request. */
  readonly reason: string | null;
  /** One line: the client's own output, or its error. */
  readonly text: string;
}

/** A Kubernetes request, as a kubectl command line and as the HTTPS request it amounts to. */
export interface KubeAction {
  /** kubectl's arguments (no --kubeconfig, --token). */
  readonly kubectl: readonly string[];
  readonly request: { readonly method: string; readonly path: string; readonly contentType?: string; readonly body?: string };
  /** For a read: the field to answer (kubectl `-o jsonpath`), e.g. ['metadata', 'resourceVersion']. */
  readonly field?: readonly string[];
}

export interface KubeClient {
  /** How the demo line names the request. */
  describe(action: KubeAction): string;
  run(action: KubeAction, kubeconfig: string, token: string | null, signal: AbortSignal): Promise<AgentResult>;
}

/**
 * kubectl on PATH; where it is a version-choosing wrapper with the versioned binaries beside it
 * (google-cloud-sdk, the machines this project is built on), the versioned 1.32 binary.
 */
export function findKubectl(path = process.env['PATH'] ?? ''): string | null {
  const onPath = findOnPath('kubectl', path);
  if (onPath === null) return null;
  const pinned = join(dirname(realpathSync(onPath)), `kubectl.${KUBECTL_VERSION}`);
  try {
    accessSync(pinned, constants.X_OK);
    return pinned;
  } catch {
    return onPath;
  }
}

/** kubectl run in `workDir` (relative manifest paths), its discovery cache kept there too. */
export function kubectlClient(bin: string, workDir: string): KubeClient {
  const cacheDir = join(workDir, 'kubectl-cache');
  return {
    describe: (action) => ['kubectl', ...action.kubectl].map(shellQuote).join(' '),
    async run(action, kubeconfig, token, signal) {
      const args = [
        '--kubeconfig', kubeconfig, '--cache-dir', cacheDir,
        ...(token === null ? [] : ['--token', token]),
        ...action.kubectl,
        ...(action.field ? ['-o', `jsonpath={.${action.field.join('.')}}`] : []),
      ];
      return fromProcess(await exec(bin, args, { PATH: process.env['PATH'], HOME: process.env['HOME'] ?? workDir }, signal, workDir));
    },
  };
}

/** Without kubectl: the request kubectl would send, from node, with the kubeconfig's server and CA. */
export function httpsClient(): KubeClient {
  return {
    describe: (action) => `node https ${action.request.method} ${action.request.path}`,
    async run(action, kubeconfig, token, signal) {
      const { server, ca } = await readKubeconfig(kubeconfig);
      const answer = await send(new URL(action.request.path, server), ca, action, token, signal);
      const reason = answer.headers['x-seb-reason'];
      const ok = answer.status >= 200 && answer.status < 300;
      let text = `HTTP ${answer.status}`;
      if (ok && action.field) text = String(pick(answer.body, action.field));
      else if (!ok) text += `: ${oneLine(statusMessage(answer.body))}`;
      return { ok, reason: typeof reason === 'string' ? reason : null, text };
    },
  };
}

/** The `aws` CLI as an agent runs it: the broker as endpoint, placeholder keys, the certificate as session token. */
export async function runAws(bin: string, args: readonly string[], endpoint: string, region: string, token: string | null, signal: AbortSignal): Promise<AgentResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'AKIDSEBAGENT',
    AWS_SECRET_ACCESS_KEY: 'placeholder',
    AWS_DEFAULT_REGION: region,
    AWS_MAX_ATTEMPTS: '1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...(token === null ? {} : { AWS_SESSION_TOKEN: token }),
  };
  return fromProcess(await exec(bin, args, env, signal));
}

interface ProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function exec(bin: string, args: readonly string[], env: NodeJS.ProcessEnv, signal: AbortSignal, cwd?: string): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(bin, args, { env, timeout: CLIENT_TIMEOUT_MS, maxBuffer: MAX_ANSWER_BYTES, signal, ...(cwd ? { cwd } : {}) }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: err && stderr === '' ? err.message : stderr });
    });
  });
}

function fromProcess(r: ProcessResult): AgentResult {
  const ok = r.code === 0;
  return { ok, reason: DENIAL.exec(r.stderr)?.[1] ?? null, text: oneLine(ok ? r.stdout : r.stderr) };
}

async function readKubeconfig(path: string): Promise<{ server: string; ca: string }> {
  const doc = parse(await readFile(path, 'utf8')) as { clusters?: { cluster?: { server?: unknown; 'certificate-authority'?: unknown } }[] };
  const cluster = doc.clusters?.[0]?.cluster;
  if (typeof cluster?.server !== 'string' || typeof cluster['certificate-authority'] !== 'string') {
    throw new Error(`${path}: no cluster server and certificate-authority`);
  }
  return { server: cluster.server, ca: await readFile(cluster['certificate-authority'], 'utf8') };
}

interface Answer {
  readonly status: number;
  readonly headers: NodeJS.Dict<string | string[]>;
  readonly body: unknown;
}

function send(url: URL, ca: string, action: KubeAction, token: string | null, signal: AbortSignal): Promise<Answer> {
  const { method, contentType, body } = action.request;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  if (contentType !== undefined) headers['content-type'] = contentType;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca, signal, timeout: CLIENT_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) return void req.destroy(new Error(`the answer exceeds ${MAX_ANSWER_BYTES} bytes`));
        chunks.push(chunk);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON: kept as text for the line.
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${CLIENT_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

function pick(value: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), value);
}

function statusMessage(body: unknown): string {
  const message = pick(body, ['message']);
  return typeof message === 'string' ? message : String(body);
}

function oneLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}
