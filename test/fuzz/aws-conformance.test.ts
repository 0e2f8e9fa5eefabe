/**
 * Fuzz: the AWS reader on the requests real SDKs send. Each case takes one of botocore's own
 * requests from the conformance sample (test/conformance: every protocol, 50 operations each) and
 * changes one to four components of it (path bytes, query order, duplicates and encoding, headers,
 * body bytes, method, scope). The property is aws-understand's: no crash, no hang (harness.ts
 * bounds each case), the captured op admits its own request and any respelling of it, and admits a
 * changed request only when an independent reading says the upstream performs the very same call.
 *
 * A protocol the reader does not serve yet (rest-json before issue 13's reader) still runs: every
 * mutation of it must be denied, never crash.
 */
import t from 'tap';
import fc from 'fast-check';
import { judge, serialised, toReq } from '../conformance/aws-botocore.js';
import { admitsExactly, check, Coverage } from './harness.js';
import { AWS_CONTRACT, mutation } from './aws-requests.js';

const TARGET = 'aws-conformance';

const byProtocol = new Map<string, ReturnType<typeof serialised>>();
for (const s of serialised('sample')) {
  if (s.error !== undefined) continue;
  byProtocol.set(s.protocol, [...(byProtocol.get(s.protocol) ?? []), s]);
}

t.ok(byProtocol.size >= 6, `the sample has every protocol: ${[...byProtocol.keys()].join(', ')}`);

for (const [protocol, pool] of [...byProtocol].sort()) {
  t.test(`${protocol}: botocore's requests, mutated, are admitted only when the same call`, async (t) => {
    const readable = pool.filter((s) => judge(s).kind === 'exact').length;
    const cov = new Coverage();
    const request = fc.constantFrom(...pool.map(toReq));
    await check(t, TARGET, `${protocol} mutate`, fc.property(request, fc.array(mutation, { minLength: 1, maxLength: 4 }), (r, ms) => admitsExactly(AWS_CONTRACT, cov, r, ms)));
    // Not vacuous: where the reader reads some of the pool, cases reach the matcher.
    t.ok(readable === 0 || cov.count('captured') > 0, `${protocol}: ${readable} of ${pool.length} read today; ${cov.count('captured')} cases captured, ${cov.count('admitted')} mutations admitted`);
  });
}
