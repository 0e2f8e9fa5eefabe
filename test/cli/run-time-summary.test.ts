// `seb cert inspect` names each run-time value a certificate allows and how it is checked (SPEC §2.2).
import t from 'tap';
import { runTimeSummary } from '../../src/cli/run-time-summary.js';

t.test('each volatile and bind entry is one line; a certificate without them prints nothing', async (t) => {
  const claims = {
    contract: {
      ops: [
        { operation: 'CreateMultipartUpload' },
        { operation: 'UploadPart', bind: [{ at: 'query:uploadId', from: { op: 0, value: 'xml:UploadId' } }] },
        { verb: 'patch', resource: 'deployments', volatile: [{ at: '/spec/x', kind: 'timestamp' }] },
        { operation: 'RunInstances', volatile: [{ at: 'form:ClientToken', kind: 'idempotency_token' }] },
      ],
    },
  };
  t.same(runTimeSummary(claims), [
    'run-time values (every other byte is pinned):',
    "  op 1 UploadPart: query:uploadId must equal xml:UploadId of op 0's answer as the broker relayed it",
    "  op 2 patch deployments: /spec/x is timestamp (RFC 3339, inside the validity window and within trust.clock_skew of the broker's clock)",
    '  op 3 RunInstances: form:ClientToken is idempotency_token (a UUID v4, each value usable once per certificate)',
  ]);
  t.same(runTimeSummary({ contract: { ops: [{ operation: 'PutObject' }] } }), []);
  t.same(runTimeSummary(null), []);
  t.same(runTimeSummary({ contract: { ops: [{ operation: 'X', volatile: [{ at: '/a', kind: 'wildcard' }] }] } }), [
    'run-time values (every other byte is pinned):',
    '  op 0 X: /a is wildcard (unknown kind: refused)',
  ]);
});
