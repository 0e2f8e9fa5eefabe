// Authority source faults (SPEC §6): the file source deleted, holding garbage, a forged signature,
// a rolled-back state or one from the future; the URL source down, failing or serving garbage. A
// bad state never replaces the good one (a request is still admitted under it), every fault is
// logged and counted, and once the good state is older than its max_age every mutation is denied
// authority_stale (503) on both targets, with /readyz 503, until a fresh state arrives.
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueAuthority, makeKey, TEST_ISS } from '../helpers/pki.js';
import { until } from '../helpers/until.js';
import { expectAdmitted, expectAuditTrail, expectDenied, startWorld, type World } from './world.js';

/** max_age of the states below; each is signed so that it stays fresh for FRESH_S more seconds. */
const MAX_AGE = 60;
const FRESH_S = 6;

async function metric(w: World, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${w.tb.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  // A labelled counter appears only once it was first incremented.
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const readyz = async (w: World) => {
  const r = await fetch(`${w.tb.adminUrl}/readyz`);
  return { status: r.status, body: (await r.json()) as { checks?: { authority?: boolean } } };
};

interface Fault {
  readonly name: string;
  /** Breaks the source; `seq` is the good state's. */
  readonly apply: (seq: number) => Promise<void> | void;
  /** The metric that counts it. */
  readonly counted: readonly [string, string];
}

/**
 * One fault: a good state fresh for FRESH_S seconds, the fault, the good state still in force, then
 * stale: authority_stale on every target; a fresh state ends it.
 */
async function staleAfter(t: Test, w: World, fault: Fault, publish: (o: { seq: number; iat?: number; maxAge: number }) => Promise<void>, targets: readonly ('aws' | 'k8s')[]): Promise<void> {
  const seq = (await metric(w, 'seb_authority_seq')) + 1;
  await publish({ seq, iat: Math.floor(Date.now() / 1000) - (MAX_AGE - FRESH_S), maxAge: MAX_AGE });
  t.ok(await until(async () => (await metric(w, 'seb_authority_seq')) === seq, 5_000), `state seq ${seq} in force`);
  const counted = await metric(w, ...fault.counted);
  await fault.apply(seq);
  t.ok(await until(async () => (await metric(w, ...fault.counted)) > counted, 5_000), `the fault is counted (${fault.counted.join('')})`);
  t.equal(await metric(w, 'seb_authority_seq'), seq, 'the good state stays in force');
  const name = `auth-${seq}`;
  const during = await w.putCert(name);
  await expectAdmitted(t, w, await w.put(name, during.jws), 200, during.jti);

  t.ok(await until(async () => (await readyz(w)).status === 503, (FRESH_S + 5) * 1000), 'then it goes stale: /readyz 503');
  t.match((await readyz(w)).body, { checks: { authority: false } });
  const before = w.mutations();
  for (const target of targets) {
    const stale = `${name}-stale-${target}`;
    const { jws, jti } = target === 'aws' ? await w.putCert(stale) : await w.createCert(stale);
    const r = target === 'aws' ? await w.put(stale, jws) : await w.create(stale, jws);
    await expectDenied(t, w, r, { target, status: 503, reason: 'authority_stale', certId: jti, detail: `authority state seq ${seq} is older than max_age` });
  }
  t.equal(w.mutations(), before, 'nothing went upstream');

  await publish({ seq: seq + 1, maxAge: MAX_AGE });
  // A failing source is retried at most 5 s apart (backoff.ts), then polled every second.
  t.ok(await until(async () => (await readyz(w)).status === 200, 8_000), 'a fresh state: ready again');
  const after = await w.putCert(`${name}-after`);
  await expectAdmitted(t, w, await w.put(`${name}-after`, after.jws), 200, after.jti);
}

t.test('file source', async (t) => {
  const w = await startWorld({ kube: true });
  t.teardown(() => w.close());
  const file = join(w.tb.dir, 'authority.jws');
  const publish = async (o: { seq: number; iat?: number; maxAge: number }): Promise<void> => writeFileSync(file, await issueAuthority(w.tb.issuer, o));
  const refused: readonly [string, string] = ['seb_authority_refused_total', ''];
  const faults: Fault[] = [
    { name: 'the file holds garbage', apply: () => writeFileSync(file, 'this is not a signed state\n'), counted: refused },
    {
      name: 'a forged signature',
      apply: async (seq) => {
        const [h, p, s] = (await issueAuthority(w.tb.issuer, { seq: seq + 1, maxAge: MAX_AGE, revocationEpoch: 0 })).split('.');
        const sig = Buffer.from(s!, 'base64url');
        sig[0]! ^= 0xff;
        writeFileSync(file, `${h}.${p}.${sig.toString('base64url')}`);
      },
      counted: refused,
    },
    { name: 'signed by a key the broker does not trust', apply: async (seq) => writeFileSync(file, await issueAuthority(makeKey(), { seq: seq + 1, maxAge: MAX_AGE })), counted: refused },
    { name: 'a rolled-back state (lower seq)', apply: async (seq) => writeFileSync(file, await issueAuthority(w.tb.issuer, { seq: seq - 1, maxAge: MAX_AGE })), counted: refused },
    {
      name: 'a state from the future (iat beyond clock_skew)',
      apply: async (seq) => writeFileSync(file, await issueAuthority(w.tb.issuer, { seq: seq + 1, iat: Math.floor(Date.now() / 1000) + 120, maxAge: MAX_AGE })),
      counted: refused,
    },
    { name: 'the file is deleted', apply: () => unlinkSync(file), counted: ['seb_authority_source_errors_total', '{source="file"}'] },
  ];
  for (const fault of faults) await t.test(fault.name, (t) => staleAfter(t, w, fault, publish, ['aws', 'k8s']));
  await t.test('audit trail', (t) => expectAuditTrail(t, w));
});

t.test('URL source', async (t) => {
  // A state server the test controls: poll mode (plain GET), as any static server would serve it.
  let mode: 'ok' | 'error' | 'garbage' = 'ok';
  let state = '';
  const server: Server = createServer((_req, res) => {
    if (mode === 'error' || state === '') return void res.writeHead(500).end('upstream trouble');
    if (mode === 'garbage') return void res.writeHead(200, { 'content-type': 'application/jose' }).end('<html>a login page</html>');
    res.writeHead(200, { 'content-type': 'application/jose' }).end(state);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  t.teardown(() => (server.listening ? stop() : undefined));
  // The issuer's key is made with the broker: until the first state is served the broker waits
  // (SPEC §6: it starts unready), then takes it from the next poll.
  const w = await startWorld({ config: { authority: { iss: TEST_ISS, url: `http://127.0.0.1:${port}/authority` } } });
  t.teardown(() => w.close());
  const publish = async (o: { seq: number; iat?: number; maxAge: number }): Promise<void> => {
    mode = 'ok';
    if (!server.listening) await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    state = await issueAuthority(w.tb.issuer, o);
  };
  const errors: readonly [string, string] = ['seb_authority_source_errors_total', '{source="url"}'];
  const faults: Fault[] = [
    { name: 'the state server is down (connection refused)', apply: () => stop(), counted: errors },
    { name: 'the state server answers 500', apply: () => void (mode = 'error'), counted: errors },
    { name: 'the state server answers 200 with garbage', apply: () => void (mode = 'garbage'), counted: ['seb_authority_refused_total', ''] },
  ];
  for (const fault of faults) await t.test(fault.name, (t) => staleAfter(t, w, fault, publish, ['aws']));
  await t.test('audit trail', (t) => expectAuditTrail(t, w));
});
