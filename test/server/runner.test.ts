// The runner alone (src/server/runner.ts): a fake target, certificate verifier, authority, ledger
// and record writer, an in-process listener and undici's MockAgent as the upstream. No peers, no
// child processes. Each stage's denial, the order of the stages and the records each writes.
import t from 'tap';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockAgent } from 'undici';
import { Denial, type ReasonCode } from '../../src/reasons.js';
import { Runner, type RunnerDeps } from '../../src/server/runner.js';
import { Metrics } from '../../src/server/metrics.js';
import { PIPELINE } from '../../src/server/stages.js';
import type { Certificate, K8sOp, Op } from '../../src/certificate/types.js';
import { CompactJws } from '../../src/certificate/compact-jws.js';
import type { Config } from '../../src/config/types.js';
import type { AdmittedRequest, BoundRequest, RenderedAnswer, RequestHead, RequestKind, Target, TargetRequest, UpstreamRequest } from '../../src/targets/target.js';

const ORIGIN = 'http://upstream.test';
const OP = { target: 'k8s', pre_state: { absent: true }, max_uses: 1 } as unknown as K8sOp;
const CERT = {
  kid: 'k', iss: 'iss', sub: 'agent', aud: ['seb'], jti: 'cert-1', iat: 1, nbf: 1, exp: 2e9,
  policy_epoch: 1, revocation_epoch: 1, execution_identity: 'ops', contract: { id: 'c', evidence: 'e', ops: [OP] },
} satisfies Certificate;

/** Where each stage is made to fail: the stage's name and the denial it throws there. */
type Failing = { readonly stage: string; readonly code: ReasonCode } | null;

interface World {
  readonly calls: string[];
  readonly records: Record<string, unknown>[];
  fail: Failing;
  kind: RequestKind;
  /** What the carrier handed on, and what the verifier was given. */
  carried?: CompactJws | null;
  verified?: CompactJws;
}

function stageFails(w: World, stage: string): void {
  w.calls.push(stage);
  if (w.fail?.stage === stage) throw new Denial(w.fail.code, `made to fail at ${stage}`);
}

type Profile = { readonly user: string };

function fakeTarget(w: World): Target<Profile> {
  const view = (head: RequestHead) => ({
    identityRecord: () => null,
    project: () => ({ what: head.path }),
    render: (status: number, message: string): RenderedAnswer => ({ status, headers: { 'content-type': 'text/plain' }, body: message }),
  });
  const admitted = (head: RequestHead): AdmittedRequest<Profile> => ({
    ...view(head),
    kind: w.kind,
    identityRecord: () => ({ type: 'fake' }),
    prepare: async (): Promise<UpstreamRequest> => {
      stageFails(w, 'sign');
      return { origin: ORIGIN, path: head.target, method: head.method, headers: {}, body: Buffer.alloc(0), bodyTimeoutMs: 1000 };
    },
    tunnel: () => {
      throw new Error('no tunnels here');
    },
    outcome: () => ({ upstreamRequestId: null, error: null }),
    redactedHeaders: () => null,
    streamNotice: () => null,
  });
  const bound = (head: RequestHead): BoundRequest<Profile> => ({
    ...view(head),
    kind: w.kind,
    match: (ops: readonly Op[]) => (stageFails(w, 'match'), { index: 0, op: ops[0]!, values: [] }),
    drift: async () => stageFails(w, 'drift'),
    identity: async () => (stageFails(w, 'mint'), admitted(head)),
  });
  const request = (head: RequestHead): TargetRequest<Profile> => ({
    ...view(head),
    early: { kind: w.kind, matchHead: () => stageFails(w, 'match-head') },
    carrier: () => {
      stageFails(w, 'carrier');
      const token = head.headers['x-seb-certificate'];
      return (w.carried = token === undefined ? null : new CompactJws(token));
    },
    finish: () => {
      w.calls.push('body');
      return { ...view(head), kind: w.kind, capture: (_account: string, record: (op: Op) => number) => (record(OP), null), bind: () => bound(head) };
    },
    passRead: () => (w.calls.push('body'), bound(head)),
  });
  return {
    name: 'k8s',
    carrierHint: 'send a certificate',
    bareProjection: { what: null },
    reader: { user: 'r' },
    executor: (name) => (stageFails(w, 'executor'), name === 'ops' ? { user: 'u' } : null),
    open: (head) => (stageFails(w, 'hygiene'), request(head)),
    renderBare: (_h, status, message) => ({ status, headers: {}, body: message }),
  };
}

function deps(w: World, mock: MockAgent): RunnerDeps {
  let seq = 0;
  return {
    config: { reads: 'allow', read_executor: 'reader', executors: { ops: { k8s: { user: 'u', groups: [] } }, reader: { k8s: { user: 'r', groups: [] } } }, limits: { max_body_bytes: 1024, request_timeout: 5, max_stream: 60, min_read_rate: 0 }, trust: { clock_skew: 0 } } as unknown as Config,
    verifier: {
      verify: async (jws: CompactJws) => {
        w.verified = jws;
        stageFails(w, 'certificate');
        return CERT;
      },
    } as never,
    authority: { check: () => stageFails(w, 'authority'), fresh: () => true } as never,
    ledger: {
      reserve: async () => (stageFails(w, 'replay'), { commit: async () => void w.calls.push('commit'), release: () => void w.calls.push('release') }),
      recall: async () => null,
      remember: async () => {},
      healthy: () => true,
      close: async () => {},
    },
    records: {
      decision: async (body: Record<string, unknown>) => {
        stageFails(w, 'record');
        w.records.push({ kind: 'decision', ...body });
        return { stream: 's', seq: ++seq };
      },
      outcome: async (body: Record<string, unknown>) => (w.records.push({ kind: 'outcome', ...body }), { stream: 's', seq: ++seq }),
    } as never,
    metrics: new Metrics(),
    // One lane that always has room: the MockAgent is the upstream.
    lanes: { acquire: async () => ({ dispatcher: mock, release: () => {} }) } as never,
    log: () => {},
  };
}

async function start(w: World): Promise<{ server: Server; port: number; mock: MockAgent }> {
  const mock = new MockAgent();
  mock.disableNetConnect();
  mock.get(ORIGIN).intercept({ path: /.*/, method: /.*/ }).reply(200, 'upstream answer').persist();
  const runner = new Runner(fakeTarget(w), deps(w, mock));
  const server = createServer(runner.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, mock };
}

function send(port: number, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/x', headers: { 'content-length': '0', ...headers } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const MUTATION: RequestKind = { read: false, vends: null, longRunning: false };
const ADMIT_ORDER = ['hygiene', 'carrier', 'certificate', 'authority', 'executor', 'match-head', 'body', 'match', 'replay', 'drift', 'mint', 'sign', 'record', 'commit'];

t.test('an admitted mutation runs every stage once, in pipeline order, and records decision then outcome', async (t) => {
  const w: World = { calls: [], records: [], fail: null, kind: MUTATION };
  const { server, port } = await start(w);
  t.teardown(() => server.close());
  const res = await send(port, { 'x-seb-certificate': 'good' });
  t.equal(res.status, 200);
  t.equal(res.headers['x-seb-decision'], 'admit');
  t.equal(res.body, 'upstream answer');
  t.same(w.calls, ADMIT_ORDER);
  // The stages the runner walks appear in the stage table's order.
  const table = PIPELINE.map((s) => s.name as string);
  const walked = w.calls.filter((c) => table.includes(c));
  t.same(walked, [...walked].sort((a, b) => table.indexOf(a) - table.indexOf(b)));
  await new Promise((r) => setImmediate(r));
  t.same(w.records.map((r) => [r['kind'], r['decision'] ?? r['status']]), [['decision', 'admit'], ['outcome', 200]]);
  t.match(w.records[0], { request: { target: 'k8s', method: 'POST', path: '/x', what: '/x' }, certificate: { jti: 'cert-1', op: 0 }, identity: { type: 'fake' } });
});

// Each stage that can deny: its reason is the one answered and recorded, later stages never run,
// and a reserved use is released.
const DENIALS: [string, ReasonCode, number][] = [
  ['certificate', 'bad_signature', 401],
  ['authority', 'revoked', 403],
  ['executor', 'unknown_execution_identity', 403],
  ['match-head', 'contract_mismatch', 403],
  ['match', 'body_mismatch', 403],
  ['replay', 'replay', 403],
  ['drift', 'drift', 409],
  ['mint', 'mint_failed', 503],
];
for (const [stage, code, status] of DENIALS) {
  t.test(`a denial at ${stage} answers and records ${code}, and stops there`, async (t) => {
    const w: World = { calls: [], records: [], fail: { stage, code }, kind: MUTATION };
    const { server, port } = await start(w);
    t.teardown(() => server.close());
    const res = await send(port, { 'x-seb-certificate': 'good' });
    t.equal(res.status, status);
    t.equal(res.headers['x-seb-reason'], code);
    t.equal(res.headers['x-seb-decision'], 'deny');
    // The use reserved by replay is given back; then the deny record is written.
    const released = ADMIT_ORDER.indexOf(stage) > ADMIT_ORDER.indexOf('replay') ? ['release'] : [];
    t.same(w.calls, [...ADMIT_ORDER.slice(0, ADMIT_ORDER.indexOf(stage) + 1), ...released, 'record']);
    t.same(w.records.map((r) => [r['kind'], r['decision'], r['reason']]), [['decision', 'deny', code]]);
  });
}

t.test('no certificate: no_certificate with the target hint, nothing verified', async (t) => {
  const w: World = { calls: [], records: [], fail: null, kind: MUTATION };
  const { server, port } = await start(w);
  t.teardown(() => server.close());
  const res = await send(port, {});
  t.equal(res.headers['x-seb-reason'], 'no_certificate');
  t.same(w.calls, ['hygiene', 'carrier', 'record']);
  t.match(w.records[0], { decision: 'deny', reason: 'no_certificate', detail: 'send a certificate', certificate: null });
});

t.test('the record sink refusing the decision is audit_unavailable and nothing goes upstream', async (t) => {
  const w: World = { calls: [], records: [], fail: { stage: 'record', code: 'audit_unavailable' }, kind: MUTATION };
  const { server, port } = await start(w);
  t.teardown(() => server.close());
  const res = await send(port, { 'x-seb-certificate': 'good' });
  t.equal(res.headers['x-seb-reason'], 'audit_unavailable');
  t.notOk(w.calls.includes('commit'), 'the use was not spent');
  t.ok(w.calls.includes('release'), 'the use was given back');
});

t.test('a read under reads: allow goes out under the read executor without a certificate, recorded as read', async (t) => {
  const w: World = { calls: [], records: [], fail: null, kind: { read: true, vends: null, longRunning: false } };
  const { server, port } = await start(w);
  t.teardown(() => server.close());
  const res = await send(port, {});
  t.equal(res.status, 200);
  t.equal(res.headers['x-seb-decision'], 'read');
  t.same(w.calls, ['hygiene', 'body', 'mint', 'sign', 'record']);
  t.match(w.records[0], { decision: 'read', certificate: null });
});

t.test('credential vending is denied after the executor, before matching', async (t) => {
  const w: World = { calls: [], records: [], fail: null, kind: { read: false, vends: 'hands out a token', longRunning: false } };
  const { server, port } = await start(w);
  t.teardown(() => server.close());
  const res = await send(port, { 'x-seb-certificate': 'good' });
  t.equal(res.headers['x-seb-reason'], 'credential_vending');
  t.same(w.calls, ['hygiene', 'carrier', 'certificate', 'authority', 'executor', 'record']);
});

t.test('parse once: the verifier gets the carrier\'s reading, and a denial names the jti from that same reading', async (t) => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const token = `${b64({ alg: 'EdDSA', typ: 'seb-cert+jwt', kid: 'k' })}.${b64({ jti: 'cert-9' })}.c2ln`;
  const w: World = { calls: [], records: [], fail: { stage: 'certificate', code: 'bad_signature' }, kind: MUTATION };
  const { server, port } = await start(w);
  t.teardown(() => server.close());
  const res = await send(port, { 'x-seb-certificate': token });
  t.equal(res.headers['x-seb-reason'], 'bad_signature');
  t.ok(w.carried instanceof CompactJws, 'the carrier hands on a parsed value, not the header text');
  t.equal(w.verified, w.carried, 'the verifier is given the very object the carrier built');
  t.match(w.records[0], { certificate: { jti: 'cert-9', verified: false } });
  t.match(res.body, /cert-9/, 'the client message names the claimed jti');
});
