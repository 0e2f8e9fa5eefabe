/**
 * One broker between fakes the fault tests control (fakes.ts): a fake STS, an S3-like upstream and,
 * when asked, a fake apiserver behind the kube listener. Requests are raw bytes (raw.ts) so a test
 * sees exactly what the client gets; the assertions shared by every fault live here too: the
 * protocol-native denial, the signed record behind it, nothing forwarded after a deny, and an audit
 * trail where every admitted request has its outcome.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { awsOp, type CertOptions } from '../helpers/pki.js';
import { until } from '../helpers/until.js';
import { verifyRecords } from '../../src/records/verify.js';
import { startFakeApiserver, startFakeS3, startFakeSts, type Fake, type FakeApiserver } from './fakes.js';
import { exchange, type ExchangeOptions, type RawResponse, type RawResult, type Target } from '../helpers/raw-http.js';

const ROLE_ALL = 'arn:aws:iam::123456789012:role/seb-exec-all';
const ROLE_READER = 'arn:aws:iam::123456789012:role/seb-reader';
export const BUCKET = 'fault-bkt';
export const NAMESPACE = 'web';

export interface WorldOptions {
  /** Serve the kube target too, against a fake apiserver. */
  readonly kube?: boolean;
  /** Merged over the world's config (top-level keys replace), e.g. limits, replay, authority. */
  readonly config?: Record<string, unknown>;
  /** Where the broker writes its records instead of the collecting stream, and the lines that got through. */
  readonly records?: { readonly out: NodeJS.WritableStream; readonly lines: readonly string[] };
}

export interface Rec {
  readonly type: string;
  readonly seq: number;
  readonly decision?: string;
  readonly reason?: string | null;
  readonly detail?: string | null;
  readonly decision_seq?: number;
  readonly status?: number | null;
  readonly error?: string | null;
  readonly outcome?: string | null;
  readonly certificate?: { readonly jti?: string } | null;
  readonly identity?: Record<string, unknown> | null;
  readonly sig?: string;
}

export interface World {
  readonly tb: TestBroker;
  readonly sts: Fake;
  readonly s3: Fake;
  readonly api: FakeApiserver | null;
  readonly aws: Target;
  readonly kube: Target | null;
  /** S3 PutObject of `key` as an unmodified SDK shapes it (its signature is fake: the broker reads only its scope). */
  put(key: string, jws: string | null, o?: ExchangeOptions): Promise<RawResult>;
  /** The bytes of that PutObject, for tests that send them themselves. */
  putBytes(key: string, jws: string | null): Buffer;
  /** A ConfigMap create in namespace `web`, the certificate as the kubeconfig bearer token. */
  create(name: string, jws: string | null, o?: ExchangeOptions): Promise<RawResult>;
  createBytes(name: string, jws: string | null): Buffer;
  /** A certificate for one PutObject of `key` (any body, unless `body` binds it). */
  putCert(key: string, o?: CertOptions & { body?: unknown }): Promise<{ jws: string; jti: string }>;
  /** A certificate for one create of ConfigMap `name` (any body), with an optional pre_state. */
  createCert(name: string, o?: CertOptions & { preState?: unknown }): Promise<{ jws: string; jti: string }>;
  /** Every record line the sink took so far. */
  lines(): readonly string[];
  /** Every record so far, parsed. */
  records(): Rec[];
  /** The record an `X-SEB-Record` header names, once it has arrived (bounded wait). */
  recordAt(ref: string | undefined): Promise<Rec | undefined>;
  /** The outcome record of decision `seq`, once it has arrived (bounded wait). */
  outcomeOf(seq: number, ms?: number): Promise<Rec | undefined>;
  /** Mutations that reached the fake upstreams (AWS: every request; apiserver: all but GET probes). */
  mutations(): number;
  close(): Promise<void>;
}

const fakeAuth = (service: string): string =>
  `AWS4-HMAC-SHA256 Credential=AKIDAGENT/20261126/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`;

export const configMap = (name: string): string => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { written: 'by the agent' } });

export async function startWorld(o: WorldOptions = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'seb-faults-'));
  const opened: { close(): Promise<void> }[] = [];
  try {
    const sts = await startFakeSts();
    opened.push(sts);
    const s3 = await startFakeS3();
    opened.push(s3);
    const api = o.kube ? await startFakeApiserver(dir) : null;
    if (api) opened.push(api);
    const clientDir = join(dir, 'client');
    const tb = await startTestBroker(null, {
      ...(o.records ? { recordsOut: o.records.out } : {}),
      config: {
        executors: {
          all: { aws: { role_arn: ROLE_ALL }, k8s: { user: 'seb:executor:all', groups: ['seb:executors'] } },
          reader: { aws: { role_arn: ROLE_READER }, k8s: { user: 'seb:reader', groups: ['seb:reader'] } },
        },
        aws: {
          credentials: { access_key_id: 'AKIDBROKER', secret_access_key: 'broker-secret' },
          endpoints: { sts: sts.origin, default: s3.origin },
          allow_insecure_endpoints: true,
        },
        ...(api ? { kube: { kubeconfig: api.kubeconfig, client_dir: clientDir } } : {}),
        ...o.config,
      },
    });
    const aws: Target = { port: tb.broker.aws!.port };
    const kube: Target | null = api ? { port: tb.broker.kube!.port, ca: readFileSync(join(clientDir, 'ca.crt')) } : null;
    const host = `127.0.0.1:${aws.port}`;

    const putBytes = (key: string, jws: string | null): Buffer => {
      const body = 'fault test body';
      const head = [
        `PUT /${BUCKET}/${key} HTTP/1.1`,
        `Host: ${host}`,
        'X-Amz-Date: 20261126T000000Z',
        `Authorization: ${fakeAuth('s3')}`,
        'X-Amz-Content-Sha256: UNSIGNED-PAYLOAD',
        ...(jws === null ? [] : [`X-SEB-Certificate: ${jws}`]),
        `Content-Length: ${Buffer.byteLength(body)}`,
      ];
      return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`, 'latin1');
    };
    const createBytes = (name: string, jws: string | null): Buffer => {
      const body = configMap(name);
      const head = [
        `POST /api/v1/namespaces/${NAMESPACE}/configmaps HTTP/1.1`,
        `Host: 127.0.0.1:${kube?.port ?? 0}`,
        'Content-Type: application/json',
        'Accept: application/json',
        ...(jws === null ? [] : [`Authorization: Bearer ${jws}`]),
        `Content-Length: ${Buffer.byteLength(body)}`,
      ];
      return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`, 'latin1');
    };
    const lines = (): readonly string[] => o.records?.lines ?? tb.records;
    const records = (): Rec[] => lines().map((l) => JSON.parse(l) as Rec);
    return {
      tb,
      sts,
      s3,
      api,
      aws,
      kube,
      put: (key, jws, eo = {}) => exchange(aws, putBytes(key, jws), eo),
      putBytes,
      create: (name, jws, eo = {}) => {
        if (!kube) throw new Error('this world serves no kube target');
        return exchange(kube, createBytes(name, jws), eo);
      },
      createBytes,
      putCert: (key, co = {}) =>
        tb.cert([awsOp({ service: 's3', operation: 'PutObject', resource: `arn:aws:s3:::${BUCKET}/${key}`, body: co.body ?? { any: true } })], co),
      createCert: (name, co = {}) =>
        tb.cert(
          [
            {
              target: 'k8s',
              verb: 'create',
              group: '',
              version: 'v1',
              resource: 'configmaps',
              subresource: null,
              path_suffix: null,
              namespace: NAMESPACE,
              name,
              generate_name: null,
              params: {},
              content_type: 'application/json',
              body: { any: true },
              pre_state: co.preState ?? null,
              max_uses: 1,
            },
          ],
          co,
        ),
      lines,
      records,
      async recordAt(ref) {
        if (ref === undefined) return undefined;
        const seq = Number(ref.slice(ref.lastIndexOf(':') + 1));
        let found: Rec | undefined;
        await until(() => (found = records().find((r) => r.seq === seq)) !== undefined, 2_000);
        return found;
      },
      async outcomeOf(seq, ms = 3_000) {
        let found: Rec | undefined;
        await until(() => (found = records().find((r) => r.type === 'outcome' && r.decision_seq === seq)) !== undefined, ms);
        return found;
      },
      mutations: () => s3.arrivals.length + (api?.arrivals.filter((a) => a.method !== 'GET').length ?? 0),
      async close() {
        try {
          await tb.close();
        } finally {
          for (const c of opened.reverse()) await c.close();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    for (const c of opened.reverse()) await c.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Assertions shared by every fault family.

export type TargetKind = 'aws' | 'k8s';

export interface Denied {
  readonly target: TargetKind;
  readonly status: number;
  readonly reason: string;
  /** The certificate id the message and the record must name (null: none was sent). */
  readonly certId: string | null;
  /** Text the message must also hold (what went wrong). */
  readonly detail?: string | RegExp;
  /** False when the record sink is the fault: then the denial names no record. */
  readonly recorded?: boolean;
}

/** The single answer of `r`, checked as a denial in the client's own format, and its deny record. */
export async function expectDenied(t: Test, w: World, r: RawResult, e: Denied): Promise<Rec | undefined> {
  t.notOk(r.timedOut, 'the broker answered (no hang)');
  const res = r.responses[0];
  t.equal(r.responses.length, 1, 'one answer');
  if (!res) return undefined;
  t.equal(res.status, e.status, `status ${e.status}`);
  t.equal(res.headers['x-seb-decision'], 'deny', 'X-SEB-Decision: deny');
  t.equal(res.headers['x-seb-reason'], e.reason, `X-SEB-Reason: ${e.reason}`);
  t.notOk(res.headers['retry-after'], 'no Retry-After on a denial');
  const message = e.target === 'aws' ? awsErrorMessage(t, res) : kubeStatusMessage(t, res);
  t.match(message, `seb denied the request: ${e.reason} (certificate ${e.certId ?? 'none'})`, 'the message names the reason and the certificate');
  if (e.detail) t.match(message, e.detail, 'the message says what went wrong');
  if (e.recorded === false) {
    t.notOk(res.headers['x-seb-record'], 'no X-SEB-Record: the sink took no record');
    return undefined;
  }
  const rec = await w.recordAt(res.headers['x-seb-record']);
  t.match(rec, { type: 'decision', decision: 'deny', reason: e.reason }, 'X-SEB-Record names the deny record');
  if (e.certId) t.equal(rec?.certificate?.jti, e.certId, 'the record names the certificate');
  t.type(rec?.sig, 'string', 'the deny record is signed');
  return rec;
}

/** An S3 (rest-xml) error: the code AWS uses for the status, and its message. */
export function awsErrorMessage(t: Test, res: RawResponse): string {
  const code = res.status === 401 || res.status === 403 ? 'AccessDenied' : res.status >= 502 && res.status <= 504 ? 'ServiceUnavailable' : res.status === 409 ? 'OperationAborted' : 'InvalidRequest';
  t.match(res.headers['content-type'], 'application/xml', 'an XML error');
  const m = new RegExp(`^<\\?xml [^>]*\\?>\\n<Error><Code>${code}</Code><Message>([^<]*)</Message><RequestId>[^<]+</RequestId></Error>$`).exec(res.body);
  t.ok(m, `an S3 error with code ${code}: ${res.body}`);
  t.notMatch(/<Code>([^<]*)<\/Code>/.exec(res.body)?.[1], /Throttl|SlowDown/, 'never a throttling code (clients retry those)');
  return (m?.[1] ?? '').replaceAll('&apos;', "'").replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

/** A Kubernetes Status, as kubectl parses it. */
export function kubeStatusMessage(t: Test, res: RawResponse): string {
  let status: { kind?: string; code?: number; reason?: string; message?: string } = {};
  try {
    status = JSON.parse(res.body) as typeof status;
  } catch {
    t.fail(`not a JSON Status: ${res.body}`);
  }
  t.match(res.headers['content-type'], 'application/json');
  t.equal(status.kind, 'Status', 'a Kubernetes Status');
  t.equal(status.code, res.status, 'Status.code is the HTTP status');
  const reasons: Record<number, string> = { 400: 'BadRequest', 403: 'Forbidden', 408: 'Timeout', 431: 'BadRequest', 409: 'Conflict', 502: 'ServiceUnavailable', 503: 'ServiceUnavailable', 504: 'Timeout' };
  t.equal(status.reason, reasons[res.status], `Status.reason ${reasons[res.status]}`);
  return status.message ?? '';
}

/** A request the broker admitted and forwarded: the upstream's answer, an admit record and its outcome. */
export async function expectAdmitted(t: Test, w: World, r: RawResult, status: number, jti: string): Promise<void> {
  const res = r.responses[0];
  t.equal(res?.status, status, `the upstream's ${status} reaches the client`);
  t.equal(res?.headers['x-seb-decision'], 'admit', 'X-SEB-Decision: admit');
  const rec = await w.recordAt(res?.headers['x-seb-record']);
  t.match(rec, { type: 'decision', decision: 'admit', reason: null, certificate: { jti } }, 'an admit record names the certificate');
  t.type(rec?.sig, 'string', 'the admit record is signed');
  if (rec) t.match(await w.outcomeOf(rec.seq), { status, error: null }, 'its outcome record says the upstream answered');
}

/** After a fault: a fresh certified request of the same kind is admitted (the broker is healthy). */
export async function expectHealthy(t: Test, w: World, target: TargetKind = 'aws'): Promise<void> {
  const name = `healthy-${Math.random().toString(36).slice(2, 10)}`;
  const { jws, jti } = target === 'aws' ? await w.putCert(name) : await w.createCert(name);
  const r = target === 'aws' ? await w.put(name, jws) : await w.create(name, jws);
  await expectAdmitted(t, w, r, target === 'aws' ? 200 : 201, jti);
}

/**
 * The audit trail of the whole run: every record verifies (signature and chain), every admit has
 * exactly one outcome (except admits the record sink refused: each of those is followed by a deny
 * audit_unavailable for its certificate and never went upstream), and the upstreams saw exactly
 * the mutations that were admitted and forwarded.
 */
export async function expectAuditTrail(t: Test, w: World, o: { readonly refusedAdmits?: number } = {}): Promise<void> {
  const decisions = (): Rec[] => w.records().filter((r) => r.type === 'decision');
  const admits = (): Rec[] => decisions().filter((r) => r.decision === 'admit');
  const outcomes = (): Rec[] => w.records().filter((r) => r.type === 'outcome');
  const refusedBySink = (a: Rec): boolean =>
    decisions().some((d) => d.seq > a.seq && d.reason === 'audit_unavailable' && d.certificate?.jti === a.certificate?.jti);
  const expected = (): Rec[] => admits().filter((a) => !refusedBySink(a));
  // Outcomes follow their responses; give the last ones a moment to arrive.
  await until(() => expected().every((a) => outcomes().some((x) => x.decision_seq === a.seq)), 5_000);
  const report = await verifyRecords(
    (async function* () {
      yield* w.lines();
    })(),
    { keys: [w.tb.brokerKey.publicJwk] },
  );
  t.match(report, { ok: true }, 'every record is signed and chained (seb records verify)');
  const count = new Map<number, number>();
  for (const x of outcomes()) count.set(x.decision_seq!, (count.get(x.decision_seq!) ?? 0) + 1);
  t.same(
    expected().filter((a) => count.get(a.seq) !== 1).map((a) => a.seq),
    [],
    'every admit decision has exactly one outcome record',
  );
  const refused = admits().filter(refusedBySink);
  t.equal(refused.length, o.refusedAdmits ?? 0, `admits the sink refused: ${o.refusedAdmits ?? 0}`);
  t.notOk(refused.some((a) => count.has(a.seq)), 'none of them has an outcome: none went upstream');
  const forwarded = expected().filter((a) => !/^not forwarded/.test(outcomes().find((x) => x.decision_seq === a.seq)?.error ?? '')).length;
  t.equal(w.mutations(), forwarded, `the upstreams saw exactly the ${forwarded} mutations admitted and forwarded, nothing else`);
}
