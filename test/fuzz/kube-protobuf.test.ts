/**
 * Fuzz: the Kubernetes protobuf body reader (src/targets/kube/protobuf-body.ts). A body written
 * as kubectl writes it reads back exactly its names; any bytes behind the envelope's magic either
 * read or are denied `unparseable_request`, never crash or hang; and a body changed in any way is
 * never admitted by the op captured from the original. Oracles are the generators themselves.
 */
import t from 'tap';
import fc from 'fast-check';
import { readProtobufBody } from '../../src/targets/kube/protobuf-body.js';
import { resolveRequestInfo } from '../../src/targets/kube/request-info.js';
import { kubeFacts } from '../../src/targets/kube/facts.js';
import { kubeOpFor } from '../../src/targets/kube/capture.js';
import { matchKubeOp } from '../../src/targets/kube/match.js';
import { check, Coverage, outcome } from './harness.js';
import { MAGIC, objectBytes, protobufBody, type ObjectFields } from '../helpers/k8s-protobuf.js';

const TARGET = 'kube-protobuf';
const TYPE = 'application/vnd.kubernetes.protobuf';
const NAMESPACE = 'web';
const info = resolveRequestInfo('POST', `/api/v1/namespaces/${NAMESPACE}/configmaps`, 'fieldManager=kubectl-create');

const name = fc.string({ unit: fc.constantFrom('a', 'z', '0', '-', '.', 'é', '\u{1f600}'), minLength: 1, maxLength: 12 });
const fields: fc.Arbitrary<ObjectFields> = fc.record({
  kind: fc.constantFrom('ConfigMap', 'Secret', 'Deployment'),
  name: fc.option(name, { nil: undefined }),
  generateName: fc.option(name, { nil: undefined }),
  namespace: fc.constantFrom(undefined, NAMESPACE),
  labels: fc.dictionary(name, name, { maxKeys: 3 }),
  // Field 2 (spec) holding arbitrary bytes: the reader must skip it without looking inside.
  rest: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.concat([Buffer.from([0x12, b.length]), b])),
});

type Mutation = { kind: 'replace' | 'insert' | 'delete'; at: number; byte: number } | { kind: 'truncate'; at: number } | { kind: 'append'; bytes: Uint8Array };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('replace' as const, 'insert' as const, 'delete' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
);

function mutate(body: Buffer, m: Mutation): Buffer {
  if (m.kind === 'append') return Buffer.concat([body, m.bytes]);
  const i = m.at % body.length;
  if (m.kind === 'truncate') return body.subarray(0, i);
  if (m.kind === 'delete') return Buffer.concat([body.subarray(0, i), body.subarray(i + 1)]);
  if (m.kind === 'insert') return Buffer.concat([body.subarray(0, i), Buffer.from([m.byte]), body.subarray(i)]);
  const out = Buffer.from(body);
  out[i] = m.byte;
  return out;
}

t.test('a body written as kubectl writes it reads back its names', async (t) => {
  await check(t, TARGET, 'round trip', fc.property(fields, (f) => {
    const got = outcome(() => readProtobufBody(protobufBody(f)));
    if (!got.ok) throw new Error(`a well-formed body was refused: ${got.denial.detail}`);
    const v = got.value;
    return v.kind === f.kind && v.name === (f.name ?? null) && v.generateName === (f.generateName ?? null) && v.namespace === (f.namespace ?? null);
  }));
});

/** Pieces of real envelopes mixed with raw bytes, so that some cases get past the first field. */
const piece = fc.oneof(
  fc.uint8Array({ maxLength: 4 }),
  fields.map((f) => protobufBody(f).subarray(MAGIC.length)),
  fields.map((f) => Buffer.concat([Buffer.from([0x12]), Buffer.from([objectBytes(f).length & 0x7f]), objectBytes(f)])),
);

t.test('any bytes behind the magic read or are unparseable_request, never crash', async (t) => {
  const cov = new Coverage();
  await check(t, TARGET, 'arbitrary bytes', fc.property(fc.array(piece, { maxLength: 4 }), (pieces) => {
    const got = outcome(() => readProtobufBody(Buffer.concat([MAGIC, ...pieces])));
    cov.hit(got.ok ? 'read' : 'denied');
    return got.ok || got.code === 'unparseable_request';
  }));
  t.ok(cov.count('denied') > 0 && cov.count('read') > 0, `${cov.count('read')} read, ${cov.count('denied')} denied`);
});

t.test('a changed body is never admitted by the op captured from the original', async (t) => {
  const cov = new Coverage();
  await check(t, TARGET, 'mutated body', fc.property(fields, mutation, (f, m) => {
    const body = protobufBody(f);
    const op = kubeOpFor(kubeFacts(info, TYPE, body), body);
    const changed = mutate(body, m);
    if (changed.equals(body)) return true;
    const got = outcome(() => matchKubeOp([op], kubeFacts(info, TYPE, changed), changed));
    cov.hit(got.ok ? 'admitted' : got.code);
    // A changed name is another request (contract_mismatch); any other change is another body.
    return !got.ok && ['unparseable_request', 'contract_mismatch', 'body_mismatch'].includes(got.code);
  }));
  const [unread, body] = [cov.count('unparseable_request'), cov.count('body_mismatch')];
  t.ok(unread > 0 && body > 0, `${unread} unparseable, ${body} body_mismatch, ${cov.count('contract_mismatch')} contract_mismatch`);
});
