// The shared replay ledger against a real redis-server (SPEC §4 use accounting): reserve, commit
// and release; max_uses counted exactly across connections; uses kept until exp + skew; leases
// that free the use of a broker that died; and failing closed when the store is down or slow.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Denial } from '../../src/reasons.js';
import { RedisLedger, readPassword, type RedisLedgerOptions } from '../../src/replay/redis.js';
import { useKey } from '../../src/replay/redis-keys.js';
import type { UseKey } from '../../src/replay/types.js';
import { startRedis } from '../helpers/redis.js';

const redis = await startRedis();
t.teardown(() => redis.stop());
const admin = redis.client();
t.teardown(() => admin.disconnect());

async function open(o: Partial<RedisLedgerOptions> = {}): Promise<RedisLedger> {
  const ledger = await RedisLedger.open({ url: redis.url, password: redis.password, log: () => {}, ...o });
  t.teardown(() => ledger.close());
  return ledger;
}

const now = (): number => Math.floor(Date.now() / 1000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * The store refuses certificates issued in or before the second it began counting (set when the
 * first ledger connects, and again after it lost its memory): certificates in these tests are
 * issued after waiting for the next second.
 */
const nextSecond = (): Promise<void> => sleep(1_000 - (Date.now() % 1_000) + 10);
const fresh = (op = 0): UseKey => ({ iss: 'sab.test', jti: `c-${randomUUID()}`, op });
/** The certificate's exp + skew, well ahead. */
const later = (): number => now() + 300;

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'granted';
  } catch (err) {
    if (err instanceof Denial) return err.code;
    throw err;
  }
}

await (await open()).close();
await nextSecond();

t.test('the password comes from password_file, without its trailing newline', async (t) => {
  t.equal(await readPassword(redis.passwordFile), redis.password);
  t.equal(await readPassword(null), null);
});

t.test('reserve, commit, release with max_uses 1', async (t) => {
  const ledger = await open();
  t.ok(ledger.healthy(), 'connected and authenticated');
  const key = fresh();
  const first = await ledger.reserve(key, 1, now(), later());
  t.equal(await reason(ledger.reserve(key, 1, now(), later())), 'replay', 'a reserved use is taken');
  first.release();
  const second = await ledger.reserve(key, 1, now(), later());
  t.pass('a released use can be reserved again');
  await second.commit();
  second.release();
  t.equal(await reason(ledger.reserve(key, 1, now(), later())), 'replay', 'a committed use is spent; release after commit does nothing');
  t.equal(await reason(ledger.reserve({ ...key, op: 1 }, 1, now(), later())), 'granted', 'each op of a certificate has its own uses');
});

t.test('max_uses 3: exactly 3 of 40 concurrent reserves over two connections', async (t) => {
  const a = await open();
  const b = await open();
  const key = fresh();
  const tries = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).reserve(key, 3, now(), later()));
  const settled = await Promise.allSettled(tries);
  const granted = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  t.equal(granted.length, 3, 'three reservations');
  t.ok(
    settled.every((s) => s.status === 'fulfilled' || (s.reason instanceof Denial && s.reason.code === 'replay')),
    'every other try is refused as replay',
  );
  await Promise.all(granted.slice(0, 2).map((r) => r.commit()));
  granted[2]!.release();
  const last = await b.reserve(key, 3, now(), later());
  t.equal(await reason(a.reserve(key, 3, now(), later())), 'replay', 'two committed and one reserved: none left');
  await last.commit();
  t.equal(await reason(b.reserve(key, 3, now(), later())), 'replay');
});

t.test('uses are kept until exp + skew, then forgotten', async (t) => {
  const ledger = await open();
  const key = fresh();
  const until = now() + 2;
  await (await ledger.reserve(key, 1, now(), until)).commit();
  const ttl = await admin.ttl(useKey(key));
  t.ok(ttl > 0 && ttl <= 2, `the store expires the use with the certificate (ttl ${ttl})`);
  t.equal(await reason(ledger.reserve(key, 1, now(), until)), 'replay');
  await sleep(3_100);
  t.equal(await admin.exists(useKey(key)), 0, 'gone after exp + skew');
  // A certificate past exp + skew is refused as expired before the ledger; the store just forgets.
  t.equal(await reason(ledger.reserve(key, 1, now(), now() + 60)), 'granted');
});

t.test('a reservation nobody settles (its broker died) frees its use after the lease', async (t) => {
  const dying = await RedisLedger.open({ url: redis.url, password: redis.password, log: () => {}, leaseMs: 400 });
  const survivor = await open({ leaseMs: 400 });
  const key = fresh();
  await dying.reserve(key, 1, now(), later());
  await dying.close(); // neither commit nor release, and no more renewals
  t.equal(await reason(survivor.reserve(key, 1, now(), later())), 'replay', 'held while the lease runs');
  await sleep(600);
  t.equal(await reason(survivor.reserve(key, 1, now(), later())), 'granted', 'free once the lease lapsed');
});

t.test('a live broker keeps renewing its reservation past the lease', async (t) => {
  const slow = await open({ leaseMs: 300 });
  const other = await open({ leaseMs: 300 });
  const key = fresh();
  const held = await slow.reserve(key, 1, now(), later());
  await sleep(1_000);
  t.equal(await reason(other.reserve(key, 1, now(), later())), 'replay', 'still held after three leases');
  held.release();
  await sleep(50);
  t.equal(await reason(other.reserve(key, 1, now(), later())), 'granted');
});

t.test('a commit the store did not confirm is resent until it lands', async (t) => {
  const ledger = await open({ leaseMs: 300 });
  const other = await open({ leaseMs: 300 });
  const key = fresh();
  const reservation = await ledger.reserve(key, 1, now(), later());
  // Cut every connection but the admin's: the ledger is reconnecting when it commits.
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  t.equal(await reason(reservation.commit()), 'replay_unavailable', 'the first try fails and says so');
  await sleep(1_500);
  t.ok(ledger.healthy(), 'reconnected');
  t.equal(await reason(other.reserve(key, 1, now(), later())), 'replay', 'the resent commit landed: the use is spent, not lapsed');
});

t.test('a store that lost its memory refuses certificates issued before that', async (t) => {
  const ledger = await open();
  const before = now() - 10;
  await admin.flushall();
  const key = fresh();
  const err = await ledger.reserve(key, 1, before, later()).catch((e: unknown) => e);
  t.match(err, { code: 'replay', detail: /issued no later than the second the shared replay store began counting/ });
  t.equal(await reason(ledger.reserve(key, 1, now(), later())), 'replay', 'nor one issued in the second it began');
  await nextSecond();
  t.equal(await reason(ledger.reserve(key, 1, now(), later())), 'granted', 'a certificate issued since is served');
});

t.test('wrong password: start-up fails, naming the refusal', async (t) => {
  await t.rejects(RedisLedger.open({ url: redis.url, password: 'not-the-password', log: () => {} }), { message: /refused the credentials.*WRONGPASS/ });
  await t.rejects(RedisLedger.open({ url: redis.url, password: null, log: () => {} }), { message: /refused the credentials.*NOAUTH/ });
});

t.test('a slow store is replay_unavailable within the command timeout', async (t) => {
  const ledger = await open({ commandTimeoutMs: 300 });
  redis.pause();
  t.teardown(() => redis.resume());
  const started = Date.now();
  const err = await ledger.reserve(fresh(), 1, now(), later()).catch((e: unknown) => e);
  t.match(err, { code: 'replay_unavailable', detail: /did not answer within 300 ms/ });
  t.ok(Date.now() - started < 1_000, `bounded (${Date.now() - started} ms)`);
  redis.resume();
});

t.test('a store that is down is replay_unavailable at once, and served again when it is back', async (t) => {
  const lines: string[] = [];
  // A long command timeout, so that waiting in an offline queue would show.
  const ledger = await open({ log: (l) => lines.push(l), commandTimeoutMs: 5_000 });
  await redis.kill();
  const started = Date.now();
  const err = await ledger.reserve(fresh(), 1, now(), later()).catch((e: unknown) => e);
  t.match(err, { code: 'replay_unavailable', detail: 'the shared replay store is not reachable' });
  t.ok(Date.now() - started < 1_500, `no waiting in an offline queue (${Date.now() - started} ms)`);
  // The reserve may fail on the dying socket before its close event has been processed.
  for (let i = 0; i < 20 && ledger.healthy(); i++) await sleep(50);
  t.notOk(ledger.healthy(), 'not healthy (/readyz)');
  // A kill may also surface as a read error (ECONNRESET) first, depending on timing.
  t.ok(lines.includes('seb: replay store: the connection closed; reconnecting'), `the loss is logged: ${JSON.stringify(lines)}`);

  const issuedBefore = now() - 5;
  await redis.restart();
  for (let i = 0; i < 60 && !ledger.healthy(); i++) await sleep(100);
  t.ok(ledger.healthy(), 'reconnected by itself');
  t.equal(lines.at(-1), 'seb: replay store: connected again');
  await nextSecond();
  t.equal(await reason(ledger.reserve(fresh(), 1, now(), later())), 'granted');
  t.equal(await reason(ledger.reserve(fresh(), 1, issuedBefore, later())), 'replay', 'the restarted store forgot its uses, so older certificates are refused');
});

t.test('a store that is down at start: the ledger opens, denies, and connects later', async (t) => {
  await redis.kill();
  const ledger = await open();
  t.notOk(ledger.healthy());
  t.equal(await reason(ledger.reserve(fresh(), 1, now(), later())), 'replay_unavailable');
  await redis.restart();
  for (let i = 0; i < 60 && !ledger.healthy(); i++) await sleep(100);
  await nextSecond();
  t.equal(await reason(ledger.reserve(fresh(), 1, now(), later())), 'granted');
});

t.test('Redis default persistence (RDB snapshots) is refused at start-up, unless check_persistence is off', async (t) => {
  const rdb = await startRedis({ persistence: 'rdb' });
  t.teardown(() => rdb.stop());
  await t.rejects(RedisLedger.open({ url: rdb.url, password: rdb.password, log: () => {} }), {
    message: /persistence can lose acknowledged writes: appendonly is "no", not "yes"; appendfsync is "everysec", not "always"/,
  });
  const ledger = await RedisLedger.open({ url: rdb.url, password: rdb.password, log: () => {}, checkPersistence: false });
  t.teardown(() => ledger.close());
  t.ok(ledger.healthy(), 'opened when the operator turned the check off');
});

t.test('a store whose persistence was weakened is unusable after the next reconnect, and usable again once fixed', async (t) => {
  const lines: string[] = [];
  const ledger = await open({ log: (l) => lines.push(l) });
  await nextSecond();
  t.equal(await reason(ledger.reserve(fresh(), 1, now(), later())), 'granted');
  await admin.config('SET', 'appendfsync', 'everysec');
  t.teardown(() => admin.config('SET', 'appendfsync', 'always'));
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  for (let i = 0; i < 40 && !lines.some((l) => /appendfsync is "everysec"/.test(l)); i++) await sleep(50);
  t.notOk(ledger.healthy(), '/readyz: not ready');
  const err = await ledger.reserve(fresh(), 1, now(), later()).catch((e: unknown) => e);
  t.match(err, { code: 'replay_unavailable', detail: /appendfsync is "everysec", not "always"/ });
  await admin.config('SET', 'appendfsync', 'always');
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  for (let i = 0; i < 40 && !ledger.healthy(); i++) await sleep(50);
  t.ok(ledger.healthy());
  t.equal(await reason(ledger.reserve(fresh(), 1, now(), later())), 'granted');
});

t.test('issue 11 §4: a store restarted from an older RDB snapshot cannot run a spent certificate again', async (t) => {
  const rdb = await startRedis({ persistence: 'rdb' });
  t.teardown(() => rdb.stop());
  const lines: string[] = [];
  const ledger = await RedisLedger.open({ url: rdb.url, password: rdb.password, log: (l) => lines.push(l), checkPersistence: false, leaseMs: 600 });
  t.teardown(() => ledger.close());
  const snap = rdb.client();
  t.teardown(() => snap.disconnect());
  await nextSecond();
  const spentBefore = fresh();
  await (await ledger.reserve(spentBefore, 1, now(), later())).commit();
  // The snapshot holds the since marker and one spent use; what follows is only in memory.
  t.equal(await snap.save(), 'OK');
  await nextSecond();
  const issued = now();
  const spent = fresh();
  await (await ledger.reserve(spent, 1, issued, later())).commit();
  t.equal(await reason(ledger.reserve(spent, 1, issued, later())), 'replay', 'spent');

  await rdb.kill(); // kill -9: nothing after the SAVE reaches the disk
  await rdb.restart({ keepData: true });
  t.equal(await snap.exists(useKey(spentBefore)), 1, 'the store came back from the snapshot');
  t.equal(await snap.exists(useKey(spent)), 0, 'without the later use');
  for (let i = 0; i < 60 && !ledger.healthy(); i++) await sleep(100);
  t.ok(ledger.healthy(), 'reconnected');

  const err = await ledger.reserve(spent, 1, issued, later()).catch((e: unknown) => e);
  t.match(err, { code: 'replay', detail: /issued no later than the second the shared replay store began counting/ }, 'the spent certificate does not run again');
  t.ok(lines.some((l) => /lost acknowledged writes \(its commit count went back from 2 to 1\)/.test(l)), `the loss is logged: ${JSON.stringify(lines)}`);
  t.equal(await reason(ledger.reserve(fresh(), 1, issued, later())), 'replay', 'nor any certificate issued before the loss was seen');
  await nextSecond();
  const after = fresh();
  const r = await ledger.reserve(after, 1, now(), later());
  await r.commit();
  t.pass('a certificate issued since is served');
  t.equal(await reason(ledger.reserve(after, 1, now(), later())), 'replay', 'and counted');
});

t.test('issue 11 §4: a second broker that saw the lost commit catches the loss too; a durable store loses nothing', async (t) => {
  const aof = await startRedis();
  t.teardown(() => aof.stop());
  const a = await RedisLedger.open({ url: aof.url, password: aof.password, log: () => {} });
  t.teardown(() => a.close());
  const b = await RedisLedger.open({ url: aof.url, password: aof.password, log: () => {} });
  t.teardown(() => b.close());
  await nextSecond();
  const issued = now();
  const spent = fresh();
  const unused = fresh();
  await (await a.reserve(spent, 1, issued, later())).commit();
  // b learns the commit count from its own reply.
  t.equal(await reason(b.reserve(spent, 1, issued, later())), 'replay');
  await aof.kill();
  await aof.restart({ keepData: true });
  for (let i = 0; i < 60 && !(a.healthy() && b.healthy()); i++) await sleep(100);
  t.equal(await reason(b.reserve(spent, 1, issued, later())), 'replay', 'appendfsync always: the spent use survived kill -9');
  t.equal(await reason(b.reserve(unused, 1, issued, later())), 'granted', 'and nothing was taken for a loss');
  // Now the store loses everything (a disk lost, a FLUSHALL): b, which saw count 1, refuses older certificates.
  const c = aof.client();
  t.teardown(() => c.disconnect());
  await c.flushall();
  t.equal(await reason(b.reserve(fresh(), 1, issued, later())), 'replay');
});
