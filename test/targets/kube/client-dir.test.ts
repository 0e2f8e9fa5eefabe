import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { TOKEN_PLACEHOLDER, writeClientDir } from '../../../src/targets/kube/client-dir.js';
import { issueServingCert, makeLocalCa } from '../../../src/targets/kube/local-pki.js';
import { INSTALL_HINTS } from '../../helpers/peers.js';

const run = promisify(execFile);

/**
 * kubectl 1.32 itself: the `kubectl` on PATH is a version-dispatching wrapper that sends its own
 * unauthenticated `/version` probe first (reference/k8s.md), which would blur what is observed.
 */
const KUBECTL = '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';

function requireKubectl(): string {
  try {
    accessSync(KUBECTL, constants.X_OK);
    return KUBECTL;
  } catch {
    throw new Error(`kubectl is not installed: ${INSTALL_HINTS.kubectl}`);
  }
}

interface Seen {
  readonly path: string | undefined;
  readonly authorization: string | undefined;
}

/** An https server on 127.0.0.1:0 that answers `/version` the way an apiserver does. */
async function fakeApiserver(t: Test, cert: { certPem: string; keyPem: string }): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    seen.push({ path: req.url, authorization: req.headers.authorization });
    if (req.url !== '/version') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.0' }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return { port: (server.address() as AddressInfo).port, seen };
}

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'seb-client-dir-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs kubectl with nothing from the host's own kube config or cache. */
async function kubectl(home: string, kubeconfig: string, args: readonly string[]) {
  return run(requireKubectl(), ['--kubeconfig', kubeconfig, '--cache-dir', join(home, 'cache'), ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: home },
    timeout: 30_000,
  });
}

t.test('writes ca.crt and a kubeconfig naming it, world-readable, creating the directory', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'nested', 'seb');
  const ca = await makeLocalCa('seb local CA');
  const { caPath, kubeconfigPath } = await writeClientDir(dir, { server: 'https://127.0.0.1:15002', caPem: ca.certPem });
  t.equal(caPath, join(dir, 'ca.crt'));
  t.equal(kubeconfigPath, join(dir, 'kubeconfig'));
  t.equal(await readFile(caPath, 'utf8'), ca.certPem);
  for (const path of [caPath, kubeconfigPath]) t.equal((await stat(path)).mode & 0o777, 0o644, `${path} is 0644`);
  t.same(parse(await readFile(kubeconfigPath, 'utf8')), {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'seb', cluster: { server: 'https://127.0.0.1:15002', 'certificate-authority': caPath } }],
    users: [{ name: 'agent', user: { token: 'REPLACE-WITH-CERTIFICATE' } }],
    contexts: [{ name: 'seb', context: { cluster: 'seb', user: 'agent' } }],
    'current-context': 'seb',
  });
  t.same((await readdir(dir)).sort(), ['ca.crt', 'kubeconfig'], 'no temp files left behind');
});

t.test('rewriting replaces both files whole', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'kubeconfig'), 'stale', { mode: 0o600 });
  const ca = await makeLocalCa('seb local CA');
  const { kubeconfigPath } = await writeClientDir(dir, { server: 'https://127.0.0.1:1', caPem: ca.certPem });
  const next = await makeLocalCa('seb local CA');
  const { caPath } = await writeClientDir(dir, { server: 'https://127.0.0.1:2', caPem: next.certPem });
  t.equal(await readFile(caPath, 'utf8'), next.certPem);
  t.match(await readFile(kubeconfigPath, 'utf8'), 'server: https://127.0.0.1:2');
  t.equal((await stat(kubeconfigPath)).mode & 0o777, 0o644, 'mode reset from the stale file');
  t.same((await readdir(dir)).sort(), ['ca.crt', 'kubeconfig']);
});

t.test('refuses a plain-http server: kubectl would send no token to it', async (t) => {
  const dir = await tempDir(t);
  await t.rejects(writeClientDir(dir, { server: 'http://127.0.0.1:15002', caPem: 'x' }), /must be https/);
  t.same(await readdir(dir), [], 'nothing written');
});

t.test('the real kubectl trusts the written CA and sends the kubeconfig token over TLS', async (t) => {
  const home = await tempDir(t);
  const ca = await makeLocalCa('seb local CA');
  const { port, seen } = await fakeApiserver(t, await issueServingCert(ca, ['127.0.0.1', '::1', 'localhost']));
  const { kubeconfigPath } = await writeClientDir(join(home, 'client'), { server: `https://127.0.0.1:${port}`, caPem: ca.certPem });

  const { stdout } = await kubectl(home, kubeconfigPath, ['get', '--raw', '/version']);
  t.same(JSON.parse(stdout), { major: '1', minor: '32', gitVersion: 'v1.32.0' });
  t.same(seen, [{ path: '/version', authorization: `Bearer ${TOKEN_PLACEHOLDER}` }]);
});

t.test('the real kubectl refuses a listener whose certificate the written CA did not sign', async (t) => {
  const home = await tempDir(t);
  const servingCa = await makeLocalCa('seb local CA');
  const writtenCa = await makeLocalCa('seb local CA');
  const { port, seen } = await fakeApiserver(t, await issueServingCert(servingCa, ['127.0.0.1']));
  const { kubeconfigPath } = await writeClientDir(join(home, 'client'), { server: `https://127.0.0.1:${port}`, caPem: writtenCa.certPem });

  const failure = await kubectl(home, kubeconfigPath, ['get', '--raw', '/version']).then(
    () => undefined,
    (err: unknown) => err as { stderr?: string },
  );
  t.ok(failure, 'kubectl failed');
  t.match(failure?.stderr, /certificate signed by unknown authority/);
  t.same(seen, [], 'no request, so no token, reached the server');
});
