import t from 'tap';
import { kubeStatus, kubeStatusCode, watchErrorEvent } from '../../../src/targets/kube/status.js';
import { REASONS, REASON_CODES } from '../../../src/reasons.js';

t.test('every reason code maps to a Status kubectl prints with its message', async (t) => {
  for (const code of REASON_CODES) {
    const { status, body } = kubeStatus(REASONS[code].status, `seb denied the request: ${code} (certificate c-1)`);
    t.not(status, 401, `${code}: never 401 (kubectl would hide the message)`);
    t.equal(body.code, status);
    t.equal(body.kind, 'Status');
    t.match(body.message, code);
    t.notOk(body.reason === 'Unknown', `${code} has a named reason`);
  }
});

t.test('status codes and reasons', async (t) => {
  const table: [number, number, string][] = [
    [401, 403, 'Forbidden'],
    [403, 403, 'Forbidden'],
    [409, 409, 'Conflict'],
    [503, 503, 'ServiceUnavailable'],
    [400, 400, 'BadRequest'],
    [408, 408, 'Timeout'],
    [504, 504, 'Timeout'],
  ];
  for (const [input, code, reason] of table) {
    t.equal(kubeStatusCode(input), code);
    t.equal(kubeStatus(input, 'm').body.reason, reason);
  }
});

t.test('a watch error event is one line of JSON', async (t) => {
  const line = watchErrorEvent(403, 'seb: revoked (certificate c-1)');
  t.ok(line.endsWith('\n'));
  t.equal(line.indexOf('\n'), line.length - 1);
  t.match(JSON.parse(line), { type: 'ERROR', object: { kind: 'Status', code: 403, reason: 'Forbidden' } });
});
