/**
 * `seb dev --demo`: a scripted walkthrough against the running sandbox, with the agent's real
 * clients. Each step prints one line and must behave exactly as described, or the demo stops there
 * and names the step: (1) an admitted mutation, (2) a request its certificate does not cover,
 * (3) the same single-use certificate again, (4) a pinned pre_state that no longer holds, (5) a
 * revoked certificate, (6) `seb records verify` over the session's records. With moto and the aws
 * CLI, an admitted S3 mutation comes after step 1.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { Op } from '../certificate/types.js';
import { command as recordsVerify } from '../cli/records-verify.js';
import type { ReasonCode } from '../reasons.js';
import { findResource } from './apiserver/resources.js';
import { findKubectl, httpsClient, kubectlClient, runAws, type AgentResult, type KubeAction } from './agent-client.js';
import { startCapturer } from './capturer.js';
import { findOnPath, MOTO_INSTALL_HINT } from './moto.js';
import { REGION, type Sandbox } from './sandbox.js';
import { DEMO_NAMESPACE } from './standin.js';

const CONFIGMAP = 'demo-settings';
const MANIFEST = 'demo-settings.yaml';
const BUCKET = 'seb-demo';
const AWS_CLI_HINT = 'pip install awscli';
/** The revocation must reach the broker within this (the brief of `seb dev`: within a second). */
const REVOCATION_DEADLINE_MS = 1_000;
const ISSUER_TIMEOUT_MS = 10_000;

export interface DemoContext {
  readonly sandbox: Sandbox;
  readonly say: (line: string) => void;
  /** Aborted on Ctrl-C: the clients are killed and the demo ends at the current step. */
  readonly signal: AbortSignal;
}

/** A step that did not behave as the walkthrough says: the line names what happened instead. */
class Unexpected extends Error {}

interface Step {
  readonly label: string;
  /** A step that counts towards the walkthrough (the AWS one is extra). */
  readonly numbered: boolean;
  /** The line after the label; a string starting with `skip:` is printed as skipped. */
  run(): Promise<string>;
}

/** Runs the walkthrough; the exit status is 0 when every step behaved as expected. */
export async function runDemo(ctx: DemoContext): Promise<number> {
  const { sandbox, say, signal } = ctx;
  const kubectl = findKubectl();
  const kube = kubectl ? kubectlClient(kubectl, sandbox.dir) : httpsClient();
  if (kubectl === null) say("seb dev --demo: kubectl is not on PATH; the Kubernetes steps send kubectl's requests as plain HTTPS from node");
  const store = sandbox.apiserver.api.store;
  const configmaps = findResource('', 'v1', 'configmaps')!;
  const { manifest, apply, remove, patch, resourceVersion } = kubeActions();
  await writeFile(join(sandbox.dir, MANIFEST), JSON.stringify(manifest, null, 2));

  const agent = (action: KubeAction, token: string | null): Promise<AgentResult> => kube.run(action, sandbox.kubeconfig, token, signal);
  const capturer = await startCapturer(sandbox.config, sandbox.dir, sandbox.moto?.account);
  const capture = async (action: KubeAction): Promise<Op[]> => {
    const { ops, result } = await capturer.ops(() => kube.run(action, capturer.kubeconfig, null, signal));
    if (ops.length === 0) throw new Unexpected(`capturing ${kube.describe(action)} found no mutation to certify: ${result.text}`);
    return ops;
  };
  const certify = (ops: readonly unknown[]): Promise<Issued> => issue(sandbox.issuer.url, ops, signal);

  let first: Issued | null = null;
  const steps: Step[] = [
    {
      label: 'admitted',
      numbered: true,
      async run() {
        first = await certify(await capture(apply));
        const r = await agent(apply, first.jws);
        admitted(r);
        return `${kube.describe(apply)} -> ${r.text} (certificate ${short(first.jti)})`;
      },
    },
    {
      label: 'admitted',
      numbered: false,
      async run() {
        const aws = findOnPath('aws');
        if (sandbox.moto === null || sandbox.broker.aws === null) return `skip: aws: moto_server is not installed (${MOTO_INSTALL_HINT})`;
        if (aws === null) return `skip: aws: the aws CLI is not installed (${AWS_CLI_HINT})`;
        const args = ['s3api', 'create-bucket', '--bucket', BUCKET];
        const { ops, result } = await capturer.ops(() => runAws(aws, args, capturer.aws!, REGION, null, signal));
        if (ops.length === 0) throw new Unexpected(`capturing aws s3api create-bucket found no mutation to certify: ${result.text}`);
        const cert = await certify(ops);
        const r = await runAws(aws, args, `http://127.0.0.1:${sandbox.broker.aws.port}`, REGION, cert.jws, signal);
        admitted(r);
        return `aws ${args.join(' ')} -> bucket ${BUCKET} created in moto (certificate ${short(cert.jti)})`;
      },
    },
    {
      label: 'refused',
      numbered: true,
      async run() {
        const r = await agent(remove, first!.jws);
        denied(r, 'contract_mismatch');
        return `${kube.describe(remove)} with that certificate -> ${r.reason} (it certifies only the apply)`;
      },
    },
    {
      label: 'replay',
      numbered: true,
      async run() {
        const r = await agent(apply, first!.jws);
        denied(r, 'replay');
        return `${kube.describe(apply)} again with the same single-use certificate -> ${r.reason}`;
      },
    },
    {
      label: 'drift',
      numbered: true,
      async run() {
        const read = await agent(resourceVersion, null);
        if (!read.ok || read.text === '') throw new Unexpected(`reading the resourceVersion failed: ${read.text}`);
        const change = patch('fast');
        const [op, ...rest] = await capture(change);
        const cert = await certify([{ ...op, pre_state: { resource_version: read.text } }, ...rest]);
        // Someone else edits the object after the certificate pinned what the agent saw.
        const live = store.mustGet(configmaps, DEMO_NAMESPACE, CONFIGMAP);
        store.update(configmaps, DEMO_NAMESPACE, CONFIGMAP, { ...live, data: { mode: 'edited-by-someone-else' } });
        const r = await agent(change, cert.jws);
        denied(r, 'drift');
        return `${kube.describe(change)} pinned to resourceVersion ${read.text}, edited since -> ${r.reason}`;
      },
    },
    {
      label: 'revoked',
      numbered: true,
      async run() {
        const change = patch('paused');
        const cert = await certify(await capture(change));
        const { seq } = await revoke(sandbox.issuer.url, cert.jws, signal);
        const started = Date.now();
        if (!(await authorityReaches(sandbox, seq, started + REVOCATION_DEADLINE_MS, signal))) {
          throw new Unexpected(`the broker did not take authority state ${seq} within ${REVOCATION_DEADLINE_MS} ms of the revocation`);
        }
        const took = Date.now() - started;
        const r = await agent(change, cert.jws);
        denied(r, 'revoked');
        return `POST /revoke, then ${kube.describe(change)} -> ${r.reason} (in force ${took} ms after the revoke)`;
      },
    },
    {
      label: 'verified',
      numbered: true,
      async run() {
        // The broker's end record closes the stream, so the whole session is verified.
        await sandbox.broker.close();
        const file = sandbox.recordsFile;
        if (file === null) throw new Unexpected('the sandbox writes no records file');
        let out = '';
        const stdout = new PassThrough().on('data', (c: Buffer) => void (out += c.toString('utf8')));
        const code = await recordsVerify.run(
          { flags: { key: sandbox.brokerJwks }, positionals: [file], rest: [] },
          { stdout, stderr: stdout, stdin: Readable.from([]), env: {} },
        );
        const summary = /^ok: (\d+) records in 1 streams \(1 ended\)/.exec(out);
        if (code !== 0 || summary === null) throw new Unexpected(`seb records verify: ${out.trim()}`);
        return `seb records verify --key broker.jwks.json records.jsonl -> ${summary[1]} records, every signature valid, hash chain intact`;
      },
    },
  ];

  try {
    let n = 0;
    for (const step of steps) {
      if (step.numbered) n++;
      let line: string;
      try {
        if (signal.aborted) throw new Unexpected('interrupted');
        line = await step.run();
      } catch (err) {
        const which = step.numbered ? `step ${n} (${step.label})` : 'the aws step';
        if (signal.aborted) {
          say(`✗ ${step.label.padEnd(10)} interrupted`);
          say(`seb dev --demo: interrupted during ${which}`);
        } else {
          say(`✗ ${step.label.padEnd(10)} ${err instanceof Unexpected ? err.message : `failed: ${(err as Error).message}`}`);
          say(`seb dev --demo: ${which} did not behave as expected`);
        }
        return 1;
      }
      say(line.startsWith('skip: ') ? `- ${'skipped'.padEnd(10)} ${line.slice('skip: '.length)}` : `✓ ${step.label.padEnd(10)} ${line}`);
    }
    say(`seb dev --demo: all ${n} steps behaved as expected`);
    return 0;
  } finally {
    await capturer.close();
  }
}

/** The demo's Kubernetes requests: a ConfigMap in the seeded namespace, applied, deleted, patched, read. */
function kubeActions() {
  const manifest = {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name: CONFIGMAP, namespace: DEMO_NAMESPACE },
    data: { mode: 'safe' },
  };
  const objectPath = `/api/v1/namespaces/${DEMO_NAMESPACE}/configmaps/${CONFIGMAP}`;
  const apply: KubeAction = {
    kubectl: ['apply', '--server-side', '-f', MANIFEST],
    request: { method: 'PATCH', path: `${objectPath}?fieldManager=seb-demo`, contentType: 'application/apply-patch+yaml', body: JSON.stringify(manifest) },
  };
  const remove: KubeAction = {
    kubectl: ['delete', 'configmap', CONFIGMAP, '-n', DEMO_NAMESPACE, '--wait=false'],
    request: { method: 'DELETE', path: objectPath },
  };
  const patch = (mode: string): KubeAction => {
    const body = JSON.stringify({ data: { mode } });
    return {
      kubectl: ['patch', 'configmap', CONFIGMAP, '-n', DEMO_NAMESPACE, '--type=merge', '-p', body],
      request: { method: 'PATCH', path: objectPath, contentType: 'application/merge-patch+json', body },
    };
  };
  const resourceVersion: KubeAction = {
    kubectl: ['get', 'configmap', CONFIGMAP, '-n', DEMO_NAMESPACE],
    request: { method: 'GET', path: objectPath },
    field: ['metadata', 'resourceVersion'],
  };
  return { manifest, apply, remove, patch, resourceVersion };
}

function admitted(r: AgentResult): void {
  if (!r.ok) throw new Unexpected(`expected it to be admitted, got ${r.reason ?? 'an error'}: ${r.text}`);
}

function denied(r: AgentResult, reason: ReasonCode): void {
  if (r.ok) throw new Unexpected(`expected ${reason}, but it was admitted: ${r.text}`);
  if (r.reason !== reason) throw new Unexpected(`expected ${reason}, got ${r.reason ?? 'no seb denial'}: ${r.text}`);
}

function short(jti: string): string {
  return `${jti.slice(0, 8)}…`;
}

interface Issued {
  readonly jws: string;
  readonly jti: string;
}

async function issue(issuer: string, ops: readonly unknown[], signal: AbortSignal): Promise<Issued> {
  const res = await fetch(`${issuer}/certificates`, { method: 'POST', body: JSON.stringify({ ops }), signal: withTimeout(signal) });
  const text = await res.text();
  const jti = res.headers.get('x-seb-jti');
  if (res.status !== 200 || jti === null) throw new Unexpected(`the issuer refused to certify: ${res.status} ${text.trim()}`);
  return { jws: text.trim(), jti };
}

async function revoke(issuer: string, jws: string, signal: AbortSignal): Promise<{ seq: number }> {
  const res = await fetch(`${issuer}/revoke`, { method: 'POST', body: JSON.stringify({ certificate: jws }), signal: withTimeout(signal) });
  const text = await res.text();
  const seq = res.status === 200 ? (JSON.parse(text) as { seq?: unknown }).seq : undefined;
  if (typeof seq !== 'number') throw new Unexpected(`the issuer refused to revoke: ${res.status} ${text.trim()}`);
  return { seq };
}

/** Whether the broker has taken authority state `seq` (or a later one) by `deadline`, from its metrics. */
async function authorityReaches(sandbox: Sandbox, seq: number, deadline: number, signal: AbortSignal): Promise<boolean> {
  const metrics = `http://127.0.0.1:${sandbox.broker.admin.port}/metrics`;
  for (let i = 0; i < 1_000 && Date.now() < deadline && !signal.aborted; i++) {
    const text = await (await fetch(metrics, { signal: withTimeout(signal) })).text();
    const current = Number(/^seb_authority_seq (\d+)$/m.exec(text)?.[1] ?? -1);
    if (current >= seq) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

function withTimeout(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ISSUER_TIMEOUT_MS)]);
}
