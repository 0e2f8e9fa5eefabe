// Clock skew between the issuer and the broker (SPEC §2: `iat <= now + skew`; valid iff
// `nbf - skew <= now < exp + skew`; `exp - iat <= max_validity`), in both directions, on both
// targets: within trust.clock_skew (30 s) a certificate is admitted, beyond it refused
// not_yet_valid or expired in the client's own format, with a record and nothing upstream. The
// margins are 10 s either side of the bound, so a slow machine cannot move a case across it.
import t from 'tap';
import type { CertOptions } from '../helpers/pki.js';
import { expectAdmitted, expectAuditTrail, expectDenied, startWorld, type TargetKind } from './world.js';
import { until } from '../helpers/until.js';

/** The defaults of trust.clock_skew (30 s) and trust.max_validity, which the broker here runs with. */
const MAX_VALIDITY = 900;
const w = await startWorld({ kube: true });
t.teardown(() => w.close());
/** The broker started before this second (its memory ledger refuses certificates issued earlier). */
const started = Math.floor(Date.now() / 1000);

interface Case {
  readonly name: string;
  /** Certificate times relative to now (seconds). */
  readonly times: (now: number) => CertOptions;
  /** null: admitted. */
  readonly reason: 'not_yet_valid' | 'expired' | 'validity_too_long' | null;
  readonly detail?: string;
  /** Seconds the broker must have been up first, for a certificate issued in the past. */
  readonly upFor?: number;
}

const CASES: Case[] = [
  { name: 'issued 40 s in the future (issuer clock ahead beyond the skew)', times: (now) => ({ iat: now + 40, nbf: now + 40, exp: now + 340 }), reason: 'not_yet_valid', detail: 'iat is in the future' },
  { name: 'issued 20 s in the future (issuer clock ahead within the skew)', times: (now) => ({ iat: now + 20, nbf: now + 20, exp: now + 320 }), reason: null },
  { name: 'not before 40 s from now', times: (now) => ({ iat: now, nbf: now + 40, exp: now + 300 }), reason: 'not_yet_valid', detail: 'nbf is in the future' },
  { name: 'not before 20 s from now', times: (now) => ({ iat: now, nbf: now + 20, exp: now + 300 }), reason: null },
  { name: 'expired 40 s ago (issuer clock behind beyond the skew)', times: (now) => ({ iat: now - 100, nbf: now - 100, exp: now - 40 }), reason: 'expired' },
  // exp may not precede iat, so iat is 20 s ago too: after the broker's start, or its memory ledger refuses it.
  { name: 'expired 20 s ago (within the skew)', times: (now) => ({ iat: now - 20, nbf: now - 20, exp: now - 20 }), reason: null, upFor: 21 },
  { name: `valid for longer than max_validity (${MAX_VALIDITY} s)`, times: (now) => ({ iat: now, nbf: now, exp: now + MAX_VALIDITY + 60 }), reason: 'validity_too_long' },
];

for (const target of ['aws', 'k8s'] as const satisfies readonly TargetKind[]) {
  for (const c of CASES) {
    t.test(`${target}: ${c.name}: ${c.reason ?? 'admitted'}`, async (t) => {
      const name = `clock-${target}-${CASES.indexOf(c)}`;
      const upFor = c.upFor;
      if (upFor !== undefined) t.ok(await until(() => Date.now() / 1000 >= started + upFor, (upFor + 5) * 1000), `the broker is up for ${upFor} s`);
      const now = Math.floor(Date.now() / 1000);
      const { jws, jti } = target === 'aws' ? await w.putCert(name, c.times(now)) : await w.createCert(name, c.times(now));
      const before = w.mutations();
      const r = target === 'aws' ? await w.put(name, jws) : await w.create(name, jws);
      if (c.reason === null) {
        await expectAdmitted(t, w, r, target === 'aws' ? 200 : 201, jti);
        t.equal(w.mutations(), before + 1);
        return;
      }
      await expectDenied(t, w, r, { target, status: 403, reason: c.reason, certId: jti, ...(c.detail ? { detail: c.detail } : {}) });
      t.equal(w.mutations(), before, 'nothing went upstream');
    });
  }
}

t.test('audit trail', (t) => expectAuditTrail(t, w));
