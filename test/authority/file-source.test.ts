import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdtempSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CompactSign } from 'jose';
import { watchAuthorityFile } from '../../src/authority/file-source.js';
import { Authority } from '../../src/authority/state.js';
import { TrustStore } from '../../src/certificate/trust.js';
import { concerns, DEBOUNCE_MS, POLL_MS } from '../../src/certificate/watch-file.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

const sab = generateKeyPairSync('ed25519');
const dir = mkdtempSync(join(tmpdir(), 'seb-authority-file-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const jwksPath = join(dir, 'jwks.json');
writeFileSync(jwksPath, JSON.stringify({ keys: [{ ...sab.publicKey.export({ format: 'jwk' }), kid: 'sab-1' }] }));
const trust = await TrustStore.load([{ iss: 'sab.test', jwks: jwksPath }]);

function state(seq: number): Promise<string> {
  const claims = {
    iss: 'sab.test', seq, iat: Math.floor(Date.now() / 1000), max_age: 60, policy_epoch: seq, revocation_epoch: 0,
    revoked: { jti: [], sub: [] },
  };
  return new CompactSign(Buffer.from(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'EdDSA', typ: 'seb-authority+jwt', kid: 'sab-1' })
    .sign(sab.privateKey);
}

/**
 * Waits for `cond`, moving the source's clock on by the debounce at each check:
 * the directory events are real, the debounce and the poll run on the manual clock.
 */
function settles(clock: ManualClock, cond: () => boolean): Promise<boolean> {
  return until(() => {
    if (cond()) return true;
    clock.advance(DEBOUNCE_MS);
    return false;
  });
}

function newAuthority(logs: string[] = []) {
  return new Authority({ trust, iss: 'sab.test', maxAgeCap: 300, skew: 30, maxValidity: 900, log: (m) => logs.push(m) });
}

t.test('reads the file before resolving, then follows changes', async (t) => {
  const path = join(dir, 'a.jws');
  writeFileSync(path, `${await state(1)}\n`);
  const logs: string[] = [];
  const authority = newAuthority(logs);
  const clock = new ManualClock();
  const source = await watchAuthorityFile(path, authority, (m) => logs.push(m), clock);
  t.teardown(() => source.close());
  t.equal(authority.snapshot()?.seq, 1, 'offered before resolving (trailing newline ignored)');
  t.same(clock.asked, [DEBOUNCE_MS, POLL_MS], 'the first read drops the debounce its own stat started, then the stat poll waits');
  t.equal(clock.pending, 1, 'only the poll');

  writeFileSync(path, await state(2));
  t.ok(await settles(clock, () => authority.snapshot()?.seq === 2), 'in-place write picked up');

  const tmp = join(dir, 'a.jws.tmp');
  writeFileSync(tmp, await state(3));
  renameSync(tmp, path);
  t.ok(await settles(clock, () => authority.snapshot()?.seq === 3), 'atomic rename picked up');

  writeFileSync(path, 'garbage');
  t.ok(await settles(clock, () => logs.some((l) => l.includes('refused'))), 'a bad file is logged (by the authority, which alone decides)');
  t.equal(authority.snapshot()?.seq, 3, 'and does not replace the good state');
  t.ok(authority.fresh());
});

t.test('a missing file at start is logged, not fatal; it is read when it appears', async (t) => {
  const path = join(dir, 'later.jws');
  const authority = newAuthority();
  const logs: string[] = [];
  const clock = new ManualClock();
  const source = await watchAuthorityFile(path, authority, (m) => logs.push(m), clock);
  t.teardown(() => source.close());
  t.equal(authority.fresh(), false);
  t.match(logs.join('\n'), /cannot read: ENOENT/);
  writeFileSync(path, await state(7));
  t.ok(await settles(clock, () => authority.snapshot()?.seq === 7));
});

t.test('a missing directory still resolves (poll only) and close stops watching', async (t) => {
  const path = join(dir, 'nodir', 'x.jws');
  const authority = newAuthority();
  const logs: string[] = [];
  const clock = new ManualClock();
  const source = await watchAuthorityFile(path, authority, (m) => logs.push(m), clock);
  t.match(logs.join('\n'), /polling only/);
  t.same(clock.asked, [POLL_MS], 'the poll alone follows the file');
  clock.advance(POLL_MS);
  await clock.sleeping(1);
  t.same(clock.asked, [POLL_MS, POLL_MS], 'polled, and the next poll waits');
  source.close();
  t.equal(clock.pending, 0, 'close cancels the next poll');

  const path2 = join(dir, 'closed.jws');
  writeFileSync(path2, await state(1));
  const authority2 = newAuthority();
  const clock2 = new ManualClock();
  const source2 = await watchAuthorityFile(path2, authority2, () => {}, clock2);
  source2.close();
  t.equal(clock2.pending, 0, 'nothing left to wake a read');
  writeFileSync(path2, await state(2));
  clock2.advance(2 * POLL_MS);
  await new Promise((r) => setImmediate(r));
  t.equal(clock2.pending, 0, 'the write after close started no read');
  t.equal(authority2.snapshot()?.seq, 1, 'no reads after close');
});

// Issue 11 §6: the soak's records are written beside the authority file. Every directory event
// used to push the debounced read back, so while a neighbour was written more often than every
// 50 ms no republish was read and the state aged out (503 authority_stale at max_age).
t.test('a republish is read while another file in the directory is written all the time', async (t) => {
  const busy = mkdtempSync(join(tmpdir(), 'seb-authority-busy-'));
  t.teardown(() => rmSync(busy, { recursive: true, force: true }));
  const path = join(busy, 'authority.jws');
  writeFileSync(path, await state(1));
  const authority = newAuthority();
  const clock = new ManualClock();
  const source = await watchAuthorityFile(path, authority, () => {}, clock);
  t.teardown(() => source.close());
  const neighbour = join(busy, 'records.jsonl');
  // Time moves with the neighbour: a fifth of the debounce per write, so it writes five times per
  // debounce. A debounce that each event pushed back would never come due.
  let written = 0;
  const noise = setInterval(() => {
    appendFileSync(neighbour, '{}\n');
    written++;
    clock.advance(DEBOUNCE_MS / 5);
  }, 2);
  t.teardown(() => clearInterval(noise));
  await until(() => written >= 20);
  for (const seq of [2, 3, 4, 5, 6]) {
    writeFileSync(path, await state(seq));
    t.ok(await until(() => authority.snapshot()?.seq === seq, 3_000), `republish ${seq} read despite the neighbour's writes`);
  }
});

t.test('directory events that concern the watched file', async (t) => {
  t.ok(concerns('authority.jws', 'authority.jws'));
  t.ok(concerns('authority.jws', '..data'), "Kubernetes' atomic writer swaps ..data");
  t.ok(concerns('authority.jws', null), 'a platform that gives no name');
  t.notOk(concerns('authority.jws', 'records.jsonl'));
  t.notOk(concerns('authority.jws', 'authority.jws.tmp'), 'the rename that follows is the event that counts');
});
