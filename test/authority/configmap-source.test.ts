// The ConfigMap authority source: list then watch through the broker's own kube credentials
// against the stand-in apiserver; 410 Gone and a failing apiserver against a scripted one. Its waits
// (list and watch bounds, backoff, the start-up wait) run on a ManualClock the tests move.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { FIRST_STATE_MS, watchAuthorityConfigMap } from '../../src/authority/configmap-source.js';
import { TrustStore } from '../../src/certificate/trust.js';
import type { KubeConfig } from '../../src/config/types.js';
import { issueServingCert, makeLocalCa } from '../../src/targets/kube/local-pki.js';
import { AUTHORITY_CM, observedAuthority, startAuthorityKubeWorld } from '../helpers/authority.js';
import { issueAuthority, makeKey, writeKey, TEST_ISS } from '../helpers/pki.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-authority-cm-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const issuer = makeKey();
const trust = await TrustStore.load([{ iss: TEST_ISS, jwks: writeKey(dir, issuer).jwksPath }]);
const state = (seq: number, o: { revokedJti?: string[] } = {}) => issueAuthority(issuer, { seq, ...o });
const world = await startAuthorityKubeWorld(dir);
t.teardown(() => world.close());
const kube = (kubeconfig: string): KubeConfig => ({ in_cluster: false, server: null, kubeconfig, tls: null, client_dir: dir });

const sinkWorld = () => observedAuthority(trust);

/**
 * Wakes the source's retry waits one by one, in the order it asks for them: a retry waits a backoff,
 * under 5 s; every other wait it asks for is a bound of FIRST_STATE_MS (5 s) or more.
 */
function retries(clock: ManualClock): () => Promise<number> {
  let seen = 0;
  return async () => {
    let ms: number | undefined;
    const asked = await until(() => {
      for (; seen < clock.asked.length && ms === undefined; seen++) if (clock.asked[seen]! < FIRST_STATE_MS) ms = clock.asked[seen];
      return ms !== undefined;
    });
    if (!asked || ms === undefined) throw new Error(`no retry wait among ${clock.asked.join(', ')}`);
    clock.advance(ms);
    return ms;
  };
}

t.test('lists, then follows every change through the watch', async (t) => {
  world.publish(await state(1));
  const w = sinkWorld();
  const clock = new ManualClock();
  const source = await watchAuthorityConfigMap(kube(world.brokerKubeconfig), AUTHORITY_CM, w.authority, w.problem, { clock });
  t.teardown(() => source.close());
  t.equal(w.authority.snapshot()?.seq, 1, 'listed before start resolved');
  for (const seq of [2, 3, 4]) {
    world.publish(await state(seq, { revokedJti: [`c-${seq}`] }));
    t.ok(await until(() => w.authority.snapshot()?.seq === seq), `seq ${seq} through the watch`);
    t.ok(clock.asked.every((ms) => ms >= FIRST_STATE_MS), `with no retry asked for: the one watch brought it (waits: ${clock.asked.join(', ')})`);
  }
  world.publish(await state(2));
  t.ok(await until(() => w.logs.some((l) => /refused: seq 2 is below the current 4/.test(l))), 'a replayed old state is refused and logged');
  t.equal(w.authority.snapshot()?.seq, 4);

  world.remove();
  t.ok(await until(() => w.problems.some((p) => /was deleted/.test(p))), 'a deletion is reported');
  t.equal(w.authority.snapshot()?.seq, 4, 'and the current state stays');
  world.publish(await state(5));
  t.ok(await until(() => w.authority.snapshot()?.seq === 5), 'a re-created ConfigMap is read');
});

t.test('credentials the apiserver refuses: each failed list is reported and retried with backoff', async (t) => {
  const noRbac = join(dir, 'nobody.kubeconfig');
  // A token the stand-in does not know: 401 on every try.
  const text = readFileSync(world.brokerKubeconfig, 'utf8').replace('broker-token', 'unknown-token');
  writeFileSync(noRbac, text);
  const w = sinkWorld();
  const clock = new ManualClock();
  const source = await watchAuthorityConfigMap(kube(noRbac), AUTHORITY_CM, w.authority, w.problem, { clock });
  t.teardown(() => source.close());
  t.equal(w.problems.length, 1, 'start resolved on the first failure, not after the start-up wait (time stood still)');
  const retry = retries(clock);
  for (const n of [2, 3]) {
    await retry();
    t.ok(await until(() => w.problems.length === n), `retried after a backoff, failed again (${n})`);
  }
  t.match(w.problems[0], /authority configmap seb-system\/seb-authority key state\.jws: HTTP 401/);
  t.equal(w.authority.snapshot(), null, 'no state: the broker fails closed');
});

t.test('410 Gone from the watch: the ConfigMap is listed again', async (t) => {
  const ca = await makeLocalCa('scripted apiserver CA');
  const tls = await issueServingCert(ca, ['127.0.0.1']);
  const caPath = join(dir, 'scripted-ca.crt');
  writeFileSync(caPath, ca.certPem);
  const first = await state(1);
  const second = await state(2);
  const requests: string[] = [];
  let lists = 0;
  const cm = (data: string, rv: string) => ({ metadata: { name: AUTHORITY_CM.name, namespace: AUTHORITY_CM.namespace, resourceVersion: rv }, data: { [AUTHORITY_CM.key]: data } });
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'https://x');
    requests.push(`${url.searchParams.get('watch') ? 'watch' : 'list'} rv=${url.searchParams.get('resourceVersion') ?? ''}`);
    res.setHeader('content-type', 'application/json');
    if (!url.searchParams.get('watch')) {
      lists++;
      const rv = lists === 1 ? '10' : '20';
      return void res.end(JSON.stringify({ kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: rv }, items: [cm(lists === 1 ? first : second, rv)] }));
    }
    if (url.searchParams.get('resourceVersion') === '10') {
      // What the apiserver sends when the resourceVersion was compacted away.
      res.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version: 10 (15)' } })}\n`);
      return void res.end();
    }
    res.write(''); // held open: nothing changes
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const kubeconfig = join(dir, 'scripted.kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 's', cluster: { server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, 'certificate-authority': caPath } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'c', context: { cluster: 's', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  const w = sinkWorld();
  const clock = new ManualClock();
  const source = await watchAuthorityConfigMap(kube(kubeconfig), AUTHORITY_CM, w.authority, w.problem, { clock });
  t.teardown(() => source.close());
  t.equal(w.authority.snapshot()?.seq, 1, 'the first list');
  t.ok((await retries(clock)()) < FIRST_STATE_MS, 'the watch ended at once (410): a backoff before listing again');
  t.ok(await until(() => w.authority.snapshot()?.seq === 2), 'the second list brought the newer state');
  await until(() => requests.length >= 4);
  t.same(requests.slice(0, 4), ['list rv=', 'watch rv=10', 'list rv=', 'watch rv=20']);
  t.same(w.problems, [], '410 is the protocol, not a failure');
});
