// Live authority end to end: a broker whose authority state is pushed over HTTP (SSE) and one that
// watches a ConfigMap, each serving the kube target against the stand-in apiserver. Revocation by
// jti, by sub and by epoch, and a policy epoch change, each stop an admitted certificate on its next
// use; a stale state fails closed (and /readyz says so); a rollback is refused; a watch is closed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { Agent, request } from 'undici';
import { startAuthorityFeed } from '../../src/authority/feed-server.js';
import { findResource } from '../../src/dev/apiserver/resources.js';
import { AUTHORITY_CM, startAuthorityKubeWorld } from '../helpers/authority.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { kubeBrokerConfig } from '../helpers/kube.js';
import { issueAuthority, TEST_ISS, type AuthorityOptions, type CertOptions } from '../helpers/pki.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-authority-live-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const world = await startAuthorityKubeWorld(dir);
t.teardown(() => world.close());
world.api.store.create(findResource('', 'v1', 'configmaps')!, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'demo' }, data: { a: 'b' } });
const feed = await startAuthorityFeed({ mode: 'sse' });
t.teardown(() => feed.close());

const k8sOp = (o: Record<string, unknown>) => ({
  target: 'k8s', group: '', version: 'v1', resource: 'configmaps', subresource: null, path_suffix: null, namespace: 'default',
  name: null, generate_name: null, params: {}, content_type: null, body: null, pre_state: null, max_uses: 10, ...o,
});
const GET_DEMO = k8sOp({ verb: 'get', name: 'demo' });
const WATCH = k8sOp({ verb: 'watch', params: { watch: ['true'] }, max_uses: 1 });

/** One broker, and the issuer's view of its authority state (epochs only move forward). */
async function startLive(name: string, authority: Record<string, unknown>, send: (jws: string) => void) {
  const clientDir = join(dir, `${name}-client`);
  const tb = await startTestBroker(null, {
    config: { ...kubeBrokerConfig(world, clientDir), reads: 'certify', authority: { iss: TEST_ISS, ...authority } },
  });
  t.teardown(() => tb.close());
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(clientDir, 'ca.crt')) } });
  t.teardown(() => dispatcher.close());
  const origin = `https://127.0.0.1:${tb.broker.kube!.port}`;
  const current = { seq: 0, policyEpoch: 1, revocationEpoch: 0, revokedJti: [] as string[], revokedSub: [] as string[] };
  const live = {
    name,
    tb,
    current,
    /** Publishes raw bytes, as a replaying or misbehaving issuer would. */
    send,
    /**
     * Signs the next state (seq + 1) with `o` applied (epochs and lists persist, `iat` and
     * `maxAge` do not), publishes it and waits until the broker reports it in force.
     */
    async publish(o: AuthorityOptions = {}): Promise<string> {
      const { iat, maxAge, ...lasting } = o;
      Object.assign(current, lasting, { seq: current.seq + 1 });
      const jws = await issueAuthority(tb.issuer, { ...current, ...(iat === undefined ? {} : { iat }), ...(maxAge === undefined ? {} : { maxAge }) });
      send(jws);
      if (!(await until(async () => (await metric(tb, 'seb_authority_seq')) === current.seq))) throw new Error(`${name}: seq ${current.seq} never came into force`);
      return jws;
    },
    cert: (ops: unknown[], o: CertOptions = {}) =>
      tb.cert(ops, { policyEpoch: current.policyEpoch, revocationEpoch: current.revocationEpoch, ...o }),
    /** GET of the certified ConfigMap: the decision and reason. */
    async use(jws: string): Promise<string> {
      const answer = await request(`${origin}/api/v1/namespaces/default/configmaps/demo`, { dispatcher, headers: { authorization: `Bearer ${jws}` } });
      await answer.body.dump();
      return answer.headers['x-seb-decision'] === 'admit' ? `${answer.statusCode} admit` : `${answer.statusCode} ${String(answer.headers['x-seb-reason'])}`;
    },
    async watch(jws: string) {
      const answer = await request(`${origin}/api/v1/namespaces/default/configmaps?watch=true`, { dispatcher, headers: { authorization: `Bearer ${jws}` } });
      let text = '';
      const ended = (async () => {
        for await (const chunk of answer.body) text += String(chunk);
        return text;
      })().catch(() => text);
      return { status: answer.statusCode, ended };
    },
  };
  return live;
}

type Live = Awaited<ReturnType<typeof startLive>>;

/** A sample from /metrics; `labels` exactly as exposed (`{source="url"}`). */
async function metric(tb: TestBroker, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${tb.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function ready(tb: TestBroker): Promise<number> {
  return (await fetch(`${tb.adminUrl}/readyz`)).status;
}

const brokers: Live[] = [
  await startLive('url-push', { url: feed.url }, (jws) => feed.publish(jws)),
  await startLive('configmap', { configmap: { ...AUTHORITY_CM } }, (jws) => world.publish(jws)),
];

for (const live of brokers) {
  t.test(`${live.name}: the first state makes the broker ready`, async (t) => {
    await live.publish();
    t.equal(await ready(live.tb), 200);
    const { jws } = await live.cert([GET_DEMO]);
    t.equal(await live.use(jws), '200 admit');
  });

  t.test(`${live.name}: revoking the jti stops an admitted certificate on its next use`, async (t) => {
    const { jws, jti } = await live.cert([GET_DEMO]);
    t.equal(await live.use(jws), '200 admit');
    await live.publish({ revokedJti: [jti] });
    t.equal(await live.use(jws), '403 revoked');
    const other = await live.cert([GET_DEMO]);
    t.equal(await live.use(other.jws), '200 admit', 'other certificates still work');
    // SPEC §6: a revoked jti stays revoked even when a later state leaves it out.
    await live.publish({ revokedJti: [] });
    t.equal(await live.use(jws), '403 revoked');
  });

  t.test(`${live.name}: revoking the sub stops it; leaving it out lifts it`, async (t) => {
    const sub = `agent:${live.name}`;
    const { jws } = await live.cert([GET_DEMO], { sub });
    t.equal(await live.use(jws), '200 admit');
    await live.publish({ revokedSub: [sub] });
    t.equal(await live.use(jws), '403 revoked');
    await live.publish({ revokedSub: [] });
    t.equal(await live.use(jws), '200 admit');
  });

  t.test(`${live.name}: a revocation epoch bump stops every older certificate`, async (t) => {
    const { jws } = await live.cert([GET_DEMO]);
    t.equal(await live.use(jws), '200 admit');
    await live.publish({ revocationEpoch: live.current.revocationEpoch + 1 });
    t.equal(await live.use(jws), '403 revoked');
    t.equal(await live.use((await live.cert([GET_DEMO])).jws), '200 admit', 'a certificate at the new epoch works');
  });

  t.test(`${live.name}: a policy epoch change stops old certificates`, async (t) => {
    const { jws } = await live.cert([GET_DEMO]);
    t.equal(await live.use(jws), '200 admit');
    await live.publish({ policyEpoch: live.current.policyEpoch + 1 });
    t.equal(await live.use(jws), '403 policy_epoch_mismatch');
    t.equal(await live.use((await live.cert([GET_DEMO])).jws), '200 admit');
  });

  t.test(`${live.name}: a revocation closes an open watch`, async (t) => {
    const { jws, jti } = await live.cert([WATCH]);
    const watch = await live.watch(jws);
    t.equal(watch.status, 200);
    await live.publish({ revokedJti: [jti] });
    const text = await Promise.race([watch.ended, sleep(3000).then(() => 'still open')]);
    t.match(text, /"type":"ERROR".*closed: revoked/, 'ended with an ERROR event saying why');
  });

  t.test(`${live.name}: a rolled-back state is refused; a stale one fails closed and /readyz is 503`, async (t) => {
    const { jws, jti } = await live.cert([GET_DEMO]);
    const before = await live.publish();
    await live.publish({ revokedJti: [jti] });
    t.equal(await live.use(jws), '403 revoked');
    const refused = await metric(live.tb, 'seb_authority_refused_total');
    // The issuer's older state comes back (a replay, or a restored backup): refused, nothing re-admitted.
    live.send(before);
    t.ok(await until(async () => (await metric(live.tb, 'seb_authority_refused_total')) === refused + 1), 'refused and counted');
    t.equal(await metric(live.tb, 'seb_authority_seq'), live.current.seq, 'the current state stays');
    t.equal(await live.use(jws), '403 revoked');

    // Signed on time, but older than its max_age by now.
    const watch = await live.watch((await live.cert([WATCH])).jws);
    await live.publish({ iat: Math.floor(Date.now() / 1000) - 20, maxAge: 10 });
    t.ok(await until(async () => (await ready(live.tb)) === 503), '/readyz 503');
    t.ok((await metric(live.tb, 'seb_authority_age_seconds')) >= 20, 'the age metric says why');
    t.equal(await live.use((await live.cert([GET_DEMO])).jws), '503 authority_stale', 'every certified request fails closed');
    t.match(await Promise.race([watch.ended, sleep(3000).then(() => 'still open')]), /closed: authority_stale/, 'the open watch is closed');

    await live.publish();
    t.equal(await ready(live.tb), 200, 'a fresh state makes it ready again');
    t.equal(await live.use((await live.cert([GET_DEMO])).jws), '200 admit');
  });
}

t.test('source errors are counted by source', async (t) => {
  // Both brokers started before their issuer had published anything: the feed answered 503, the
  // ConfigMap did not exist yet.
  const [url, configmap] = brokers;
  t.ok((await metric(url!.tb, 'seb_authority_source_errors_total', '{source="url"}')) >= 1);
  t.ok((await metric(configmap!.tb, 'seb_authority_source_errors_total', '{source="configmap"}')) >= 1);
});
