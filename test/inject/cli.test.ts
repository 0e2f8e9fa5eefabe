/**
 * `seb inject` as a process: its HTTPS endpoints, its refusals of what is not an AdmissionReview,
 * its log line per review, TLS reload when cert-manager rotates the pair, usage errors and SIGTERM.
 */
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { until } from '../helpers/until.js';
import { https, servingPair, startInjector, type Injector, type TlsFiles } from './injector.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-inject-cli-'));
const fixture = (name: string): string => readFileSync(new URL(`../fixtures/inject/${name}`, import.meta.url), 'utf8');
const JSON_TYPE = { 'Content-Type': 'application/json' };

let tls: TlsFiles;
let injector: Injector;
t.before(async () => {
  tls = await servingPair(dir, 'injector', ['seb-injector.seb-system.svc', '127.0.0.1']);
  injector = await startInjector(tls);
});
t.teardown(async () => {
  await injector?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const call = (opts: Parameters<typeof https>[2]) => https(injector.port, tls.ca.certPem, opts);

t.test('/healthz answers ok over TLS for the Service name', async (t) => {
  const r = await call({ path: '/healthz' });
  t.equal(r.status, 200);
  t.equal(r.body, 'ok\n');
  t.equal((await call({ path: '/healthz', method: 'POST' })).status, 405);
});

t.test('/mutate injects and logs one line naming the pod', async (t) => {
  const r = await call({ method: 'POST', path: '/mutate?timeout=5s', body: fixture('plain.json'), headers: JSON_TYPE });
  t.equal(r.status, 200);
  t.match(r.headers['content-type'], /^application\/json/);
  const review = JSON.parse(r.body) as { apiVersion: string; kind: string; response: { uid: string; allowed: boolean; patchType: string; patch: string } };
  t.equal(review.apiVersion, 'admission.k8s.io/v1');
  t.equal(review.kind, 'AdmissionReview');
  t.equal(review.response.uid, '1b0e6f44-2b55-4a36-9d8e-7d1f0c3a6e01');
  t.equal(review.response.allowed, true);
  t.equal(review.response.patchType, 'JSONPatch');
  const ops = JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8')) as { path: string }[];
  t.ok(ops.some((op) => op.path === '/spec/initContainers'), 'the patch adds the sidecar');
  t.ok(await until(() => /seb inject: agents\/agent-plain: injected \(\d+ patch ops\)\n/.test(injector.stderr()), 5_000), 'logged');
});

t.test('/mutate denies with a 403 Status and logs why', async (t) => {
  const pod = (JSON.parse(fixture('denied.json')) as { case: string; pod: unknown }[]).find((c) => c.case === 'hostNetwork')!.pod;
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-denied', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'agents', object: pod } };
  const r = await call({ method: 'POST', path: '/mutate', body: JSON.stringify(review), headers: JSON_TYPE });
  t.equal(r.status, 200);
  const response = (JSON.parse(r.body) as { response: { allowed: boolean; status: { code: number; message: string } } }).response;
  t.equal(response.allowed, false);
  t.equal(response.status.code, 403);
  t.match(response.status.message, /hostNetwork is true/);
  t.ok(await until(() => /agents\/denied-hostNetwork: denied: hostNetwork is true/.test(injector.stderr()), 5_000), 'logged');
});

t.test('what is not an AdmissionReview gets a 4xx, and the server stays up', async (t) => {
  const cases: [string, Parameters<typeof https>[2], number, RegExp][] = [
    ['not JSON', { method: 'POST', path: '/mutate', body: '{"apiVersion":', headers: JSON_TYPE }, 400, /not strict JSON/],
    ['duplicate keys', { method: 'POST', path: '/mutate', body: '{"kind":"AdmissionReview","kind":"x"}', headers: JSON_TYPE }, 400, /not strict JSON/],
    ['v1beta1', { method: 'POST', path: '/mutate', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }), headers: JSON_TYPE }, 400, /malformed AdmissionReview/],
    ['an UPDATE', { method: 'POST', path: '/mutate', body: fixture('plain.json').replace('"CREATE"', '"UPDATE"'), headers: JSON_TYPE }, 400, /operation must be CREATE/],
    ['text/plain', { method: 'POST', path: '/mutate', body: fixture('plain.json'), headers: { 'Content-Type': 'text/plain' } }, 415, /application\/json/],
    ['GET /mutate', { path: '/mutate' }, 405, /method not allowed/],
    ['unknown path', { path: '/validate' }, 404, /not found/],
    ['over 3 MiB', { method: 'POST', path: '/mutate', body: Buffer.alloc(3 * 1024 * 1024 + 1, 0x20), headers: JSON_TYPE }, 413, /exceeds/],
  ];
  for (const [name, opts, status, body] of cases) {
    const r = await call(opts);
    t.equal(r.status, status, name);
    t.match(r.body, body, name);
  }
  t.match(injector.stderr(), /refused a malformed review: request.operation must be CREATE/);
  t.equal((await call({ path: '/healthz' })).status, 200, 'still serving');
});

t.test('TLS pair reload: a rotated pair is served, a mismatched one is refused and the last good one kept', async (t) => {
  const rotated = await servingPair(dir, 'rotated', ['seb-injector.seb-system.svc']);
  copyFileSync(rotated.certPath, tls.certPath);
  copyFileSync(rotated.keyPath, tls.keyPath);
  const served = async (ca: string): Promise<boolean> => https(injector.port, ca, { path: '/healthz' }).then((r) => r.status === 200, () => false);
  t.ok(await until(() => served(rotated.ca.certPem), 15_000), 'the new certificate is served');
  t.notOk(await served(tls.ca.certPem), 'the old CA no longer verifies it');
  t.match(injector.stderr(), /TLS pair reloaded/);

  const other = await servingPair(dir, 'other', ['seb-injector.seb-system.svc']);
  copyFileSync(other.certPath, tls.certPath);
  t.ok(await until(() => /new TLS pair not loaded, keeping the previous one: the certificate and key do not load together/.test(injector.stderr()), 15_000), 'the mismatch is logged');
  t.ok(await served(rotated.ca.certPem), 'the last good pair is still served');
});

/** `seb ARGS` in this process (no server starts: each case fails before listening). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const sink = (key: 'stdout' | 'stderr') => new Writable({ write: (chunk, _enc, done) => { out[key] += String(chunk); done(); } });
  const code = await main(args, { stdout: sink('stdout'), stderr: sink('stderr'), stdin: process.stdin, env: {} });
  return { code, ...out };
}

t.test('usage: --help, and bad flags exit 2 with one line each', async (t) => {
  const help = await cli(['inject', '--help']);
  t.equal(help.code, 0);
  for (const flag of ['--tls-cert FILE', '--tls-key FILE', '--listen ADDR', '--image IMG', '--init-image IMG', '--broker-uid N']) t.match(help.stdout, flag);
  t.match((await cli(['--help'])).stdout, /inject\s+run the sidecar injector/, 'listed among the commands');

  const cases: [string[], RegExp][] = [
    [['inject', '--tls-cert', tls.certPath], /--tls-key is required/],
    [['inject', '--tls-cert', tls.certPath, '--tls-key', tls.keyPath, '--listen', 'everywhere'], /--listen must be host:port/],
    [['inject', '--tls-cert', tls.certPath, '--tls-key', tls.keyPath, '--listen', '127.0.0.1:70000'], /--listen must be host:port/],
    [['inject', '--tls-cert', tls.certPath, '--tls-key', tls.keyPath, '--broker-uid', '0'], /--broker-uid must be a UID/],
    [['inject', '--tls-cert', tls.certPath, '--tls-key', tls.keyPath, '--image', 'a b'], /--image must be an image reference/],
    [['inject', '--tls-cert', join(dir, 'missing.crt'), '--tls-key', tls.keyPath], /--tls-cert\/--tls-key: ENOENT/],
    [['inject', '--tls-cert', tls.keyPath, '--tls-key', tls.keyPath], /--tls-cert\/--tls-key: the certificate and key do not load together/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, /^seb inject: /, 'names the command');
    t.match(r.stderr, message, args.join(' '));
  }
});

t.test('SIGTERM stops it with status 0', async (t) => {
  const pair = await servingPair(dir, 'stopper', ['127.0.0.1']);
  const own = await startInjector(pair, ['--image', 'registry.example/seb:test', '--broker-uid', '20000']);
  t.match(own.stderr(), /broker image registry\.example\/seb:test, init image ghcr\.io\/seb-broker\/seb-init:0\.1\.0, broker UID 20000/, 'flags and defaults in the start line');
  t.equal(await own.stop(), 0);
  t.match(own.stderr(), /SIGTERM: stopping\n.*stopped\n/s);
});
