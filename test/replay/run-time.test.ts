// SPEC §2.2 in the replay ledger, memory and redis alike: a binding is denied until the broker
// kept the value from the earlier op's answer and then must equal it; each idempotency token is a
// use of its own per certificate (released with the op's use, spent with it); answers are kept
// per (iss, jti, op, source), so another certificate sees nothing.
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { MemoryLedger } from '../../src/replay/memory.js';
import { RedisLedger } from '../../src/replay/redis.js';
import { rememberAnswer, reserveUse } from '../../src/replay/run-time.js';
import type { ReplayLedger } from '../../src/replay/types.js';
import { parseOp } from '../../src/contract/op-schema.js';
import type { Certificate, Op } from '../../src/certificate/types.js';
import type { Matched } from '../../src/contract/matcher.js';
import type { SeenValue } from '../../src/contract/run-time-values.js';
import { codeOf as reason } from '../helpers/reason.js';
import { startRedis } from '../helpers/redis.js';

const BIND = '\u0000seb:bind';
const base = { target: 'aws', service: 's3', region: 'us-east-1', resource: 'arn:aws:s3:::b/k', headers: {}, body: null, pre_state: null, max_uses: 1 };
const create = parseOp({ ...base, operation: 'CreateMultipartUpload', params: {} }, 'op');
const part = parseOp({ ...base, operation: 'UploadPart', params: { uploadId: BIND }, bind: [{ at: 'query:uploadId', from: { op: 0, value: 'xml:UploadId' } }] }, 'op', [create]);
const run = parseOp({ ...base, service: 'ec2', operation: 'RunInstances', resource: '*', params: {}, body: { sha256: 'ab'.repeat(32) }, max_uses: 3, volatile: [{ at: 'form:ClientToken', kind: 'idempotency_token' }] }, 'op');

function cert(iat: number, ops: readonly Op[]): Certificate {
  return { kid: 'k', iss: 'sab.test', sub: 'agent', aud: ['b'], jti: `c-${randomUUID()}`, iat, nbf: iat, exp: iat + 600, policy_epoch: 1, revocation_epoch: 0, execution_identity: 'all', contract: { id: 'x', evidence: '', ops } };
}
const matched = (index: number, op: Op, values: SeenValue[]): Matched<Op> => ({ index, op, values });
const uploadAnswer = (id: string) => ({ headers: {}, body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`) });

async function suite(t: Test, name: string, ledger: ReplayLedger, iat: number): Promise<void> {
  await t.test(`${name}: bindings`, async (t) => {
    const c = cert(iat, [create, part]);
    const seen = (v: string): Matched<Op> => matched(1, part, [{ at: 'query:uploadId', value: v, from: { op: 0, value: 'xml:UploadId' } }]);
    t.equal(await reason(reserveUse(ledger, c, seen('u-1'), iat, 30)), 'contract_mismatch', 'no value yet');
    t.same(await rememberAnswer(ledger, c, 0, ['xml:UploadId'], uploadAnswer('u-1'), 30), [{ source: 'xml:UploadId', value: 'u-1' }]);
    t.equal(await reason(reserveUse(ledger, c, seen('u-2'), iat, 30)), 'contract_mismatch', 'another value');
    t.equal(await reason(reserveUse(ledger, cert(iat, [create, part]), seen('u-1'), iat, 30)), 'contract_mismatch', "another certificate's value is not this one's");
    const r = await reserveUse(ledger, c, seen('u-1'), iat, 30);
    await r.commit();
    t.equal(await reason(reserveUse(ledger, c, seen('u-1'), iat, 30)), 'replay', 'the op itself is still counted');
    await rememberAnswer(ledger, c, 0, ['xml:UploadId'], uploadAnswer('u-9'), 30);
    t.equal(await ledger.recall({ iss: c.iss, jti: c.jti, op: 0, source: 'xml:UploadId' }), 'u-9', 'a later answer of the same op replaces the value');
    t.same(await rememberAnswer(ledger, c, 0, ['header:etag'], { headers: {}, body: null }, 30), [], 'a source missing from the answer keeps nothing');
  });

  await t.test(`${name}: idempotency tokens`, async (t) => {
    const c = cert(iat, [run]);
    const tok = (v: string): Matched<Op> => matched(0, run, [{ at: 'form:ClientToken', value: v, kind: 'idempotency_token' }]);
    const T1 = randomUUID();
    const first = await reserveUse(ledger, c, tok(T1), iat, 30);
    t.equal(await reason(reserveUse(ledger, c, tok(T1), iat, 30)), 'replay', 'held by a reservation');
    first.release();
    const again = await reserveUse(ledger, c, tok(T1), iat, 30);
    await again.commit();
    t.equal(await reason(reserveUse(ledger, c, tok(T1), iat, 30)), 'replay', 'spent: usable once per certificate though max_uses is 3');
    await (await reserveUse(ledger, c, tok(randomUUID()), iat, 30)).commit();
    await (await reserveUse(ledger, c, tok(randomUUID()), iat, 30)).commit();
    t.equal(await reason(reserveUse(ledger, c, tok(randomUUID()), iat, 30)), 'replay', 'max_uses still counts the op');
    t.equal(await reason(reserveUse(ledger, cert(iat, [run]), tok(T1), iat, 30)), 'ok', 'another certificate may use the value');
    t.equal(await reason(reserveUse(ledger, c, tok('not-a-uuid'), iat, 30)), 'body_mismatch', 'the form is checked before anything is counted');
  });
}

t.test('memory ledger', async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const ledger = new MemoryLedger({ now: () => now });
  t.teardown(() => ledger.close());
  await suite(t, 'memory', ledger, now);
});

t.test('redis ledger', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const ledger = await RedisLedger.open({ url: redis.url, password: redis.password, log: () => {} });
  t.teardown(() => ledger.close());
  // The store refuses certificates issued in or before the second it began counting.
  await new Promise((r) => setTimeout(r, 1_100));
  await suite(t, 'redis', ledger, Math.floor(Date.now() / 1000));
  const other = await RedisLedger.open({ url: redis.url, password: redis.password, log: () => {} });
  t.teardown(() => other.close());
  const c = cert(Math.floor(Date.now() / 1000), [create, part]);
  await rememberAnswer(ledger, c, 0, ['xml:UploadId'], uploadAnswer('shared'), 30);
  t.equal(await other.recall({ iss: c.iss, jti: c.jti, op: 0, source: 'xml:UploadId' }), 'shared', 'another replica sees the value');
  redis.pause();
  t.equal(await reason(other.recall({ iss: c.iss, jti: c.jti, op: 0, source: 'xml:UploadId' })), 'replay_unavailable', 'a store that does not answer fails closed');
  redis.resume();
});
