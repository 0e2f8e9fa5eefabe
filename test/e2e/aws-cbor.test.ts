// CloudWatch's v3 SDK over rpc-v2-cbor through the broker: its call is captured (`seb op capture`
// in process), certified and admitted; the same certificate is not admitted twice, and a
// certificate for the call refuses the same call with one member changed. moto serves no CBOR
// (it answers the forwarded call with an error), so moto's state is not checked: the decision
// records show what the broker did.
import t from 'tap';
import { CloudWatchClient, PutMetricAlarmCommand, type PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import { AwsSmithyRpcV2CborProtocol } from '@aws-sdk/core/protocols';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { agentConfig } from '../helpers/aws-sdk.js';

const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());

const alarm: PutMetricAlarmCommandInput = {
  AlarmName: 'high-cpu',
  MetricName: 'CPUUtilization',
  Namespace: 'AWS/EC2',
  Statistic: 'Average',
  Period: 60,
  EvaluationPeriods: 1,
  Threshold: 80.5,
  ComparisonOperator: 'GreaterThanThreshold',
};

/** The call through `url`; the SDK's error (moto's answer to CBOR, or the broker's denial) is ignored. */
async function put(url: string, token: string, input: PutMetricAlarmCommandInput): Promise<void> {
  const client = new CloudWatchClient({ ...agentConfig(url, token), protocol: AwsSmithyRpcV2CborProtocol });
  await client.send(new PutMetricAlarmCommand(input)).catch(() => undefined);
  client.destroy();
}

/** The last decision record: `admit`, or `deny <reason>`. */
function lastDecision(): string {
  const last = tb.records.map((l) => JSON.parse(l)).filter((rec) => rec.type === 'decision').at(-1);
  return last.decision === 'deny' ? `deny ${last.reason}` : last.decision;
}

t.test('captured, certified, admitted once; a changed member is refused', async (t) => {
  const ops = await tb.capture((url) => put(url, 'placeholder-token', alarm));
  t.equal(ops.length, 1, 'one op captured');
  t.match(ops[0], { target: 'aws', service: 'monitoring', operation: 'PutMetricAlarm', headers: { 'smithy-protocol': 'rpc-v2-cbor' } });
  const first = await tb.cert(ops);
  await put(tb.url, first.jws, alarm);
  t.equal(lastDecision(), 'admit', 'admitted');
  const relayed = tb.records.map((l) => JSON.parse(l)).filter((rec) => rec.type === 'outcome').at(-1);
  // When this fails, moto serves CBOR: check its state here, as test/e2e/aws-clients.test.ts does.
  t.match(relayed, { outcome: 'relayed', status: 404 }, 'forwarded, re-signed; moto has no CBOR route');
  await put(tb.url, first.jws, alarm);
  t.equal(lastDecision(), 'deny replay', 'the single-use certificate is not admitted twice');
  const second = await tb.cert(ops);
  await put(tb.url, second.jws, { ...alarm, Threshold: 99 });
  t.equal(lastDecision(), 'deny body_mismatch', 'a changed member is outside the certificate');
});
