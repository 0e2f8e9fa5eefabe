/**
 * Conformance with a real client: @aws-sdk/client-cloudwatch set to the rpc-v2-cbor protocol (its
 * `protocol` option; moto serves no CBOR, so nothing is sent: an in-process handler keeps the
 * request). What the SDK's own encoder writes (timestamps, doubles, lists, nested maps) is read as
 * the operation it meant, the op `seb op capture` prints admits it and refuses the SDK's next call
 * with one member changed, and the SDK parses the broker's CBOR denial into an error that carries
 * the reason code and certificate id.
 */
import t from 'tap';
import { Readable } from 'node:stream';
import { AwsSmithyRpcV2CborProtocol } from '@aws-sdk/core/protocols';
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand, PutMetricDataCommand, type CloudWatchClientConfig } from '@aws-sdk/client-cloudwatch';
import { awsOpFor } from '../../../src/contract/capture.js';
import { matchAwsOp } from '../../../src/contract/match.js';
import { parseOp } from '../../../src/certificate/op-schema.js';
import { renderDenial } from '../../../src/targets/aws/native-denial.js';
import type { AwsHttpRequest } from '../../../src/targets/aws/types.js';
import { understandAws } from '../../../src/targets/aws/understand.js';
import { code } from '../../helpers/reason.js';

const ACCOUNT = '123456789012';

interface Sent {
  readonly req: AwsHttpRequest;
  readonly body: Buffer;
}

/** One call through the SDK; the handler keeps the request and answers with `answer`. */
async function call(command: object, answer: (sent: Sent) => { status: number; headers: Record<string, string>; body: Uint8Array }): Promise<{ sent: Sent; error: unknown }> {
  let sent: Sent | undefined;
  const client = new CloudWatchClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    protocol: AwsSmithyRpcV2CborProtocol,
    requestHandler: {
      handle: async (request: { method: string; path: string; query?: Record<string, unknown>; headers: Record<string, string>; body?: Uint8Array | string }) => {
        const headers: Record<string, string> = Object.create(null);
        for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
        headers['host'] = 'monitoring.us-east-1.amazonaws.com';
        const query = new URLSearchParams(request.query as Record<string, string>).toString();
        sent = { req: { method: request.method, path: request.path, query, headers }, body: Buffer.from(request.body ?? '') };
        const out = answer(sent);
        return { response: { statusCode: out.status, headers: out.headers, body: Readable.from([Buffer.from(out.body)]) } };
      },
    },
  } as CloudWatchClientConfig);
  const error = await client.send(command as never).then(() => null, (e: unknown) => e);
  client.destroy();
  return { sent: sent!, error };
}

const ok = () => ({ status: 200, headers: { 'content-type': 'application/cbor', 'smithy-protocol': 'rpc-v2-cbor' }, body: new Uint8Array([0xa0]) });

const alarm = {
  AlarmName: 'high-cpu',
  MetricName: 'CPUUtilization',
  Namespace: 'AWS/EC2',
  Statistic: 'Average' as const,
  Period: 60,
  EvaluationPeriods: 1,
  Threshold: 80.5,
  ComparisonOperator: 'GreaterThanThreshold' as const,
  Dimensions: [{ Name: 'InstanceId', Value: 'i-0abc' }],
};

t.test('the SDK speaks rpc-v2-cbor and the broker reads each call as the operation it meant', async (t) => {
  const { sent } = await call(new PutMetricAlarmCommand(alarm), ok);
  t.equal(sent.req.headers['smithy-protocol'], 'rpc-v2-cbor', 'the SDK sent CBOR');
  t.match(understandAws(sent.req, sent.body), { service: 'monitoring', protocol: 'smithy-rpc-v2-cbor', operation: 'PutMetricAlarm', read: false });
  const data = await call(new PutMetricDataCommand({ Namespace: 'app', MetricData: [{ MetricName: 'm', Value: 1.25, Timestamp: new Date(1767293141123), Unit: 'Count' }] }), ok);
  t.equal(understandAws(data.sent.req, data.sent.body)!.operation, 'PutMetricData', 'a timestamp (tag 1) and a double');
  const read = await call(new DescribeAlarmsCommand({}), ok);
  t.match(understandAws(read.sent.req, read.sent.body), { operation: 'DescribeAlarms', read: true });
});

t.test('capture admits the SDK’s call and refuses its next call with one member changed', async (t) => {
  const { sent } = await call(new PutMetricAlarmCommand(alarm), ok);
  const op = parseOp(JSON.parse(JSON.stringify(awsOpFor(understandAws(sent.req, sent.body)!, ACCOUNT, sent.body, sent.req.headers['content-type']))), 'op');
  const decide = (s: Sent) => code(() => matchAwsOp([op], understandAws(s.req, s.body)!, ACCOUNT, s.body, s.req.headers['content-type']));
  t.equal(decide(sent), 'ok');
  t.equal(decide((await call(new PutMetricAlarmCommand(alarm), ok)).sent), 'ok', 'the same call again (a replay is the ledger’s to refuse)');
  t.equal(decide((await call(new PutMetricAlarmCommand({ ...alarm, Threshold: 0.5 }), ok)).sent), 'body_mismatch');
  t.equal(decide((await call(new PutMetricAlarmCommand({ ...alarm, Dimensions: [{ Name: 'InstanceId', Value: 'i-0abd' }] }), ok)).sent), 'body_mismatch');
});

t.test('the SDK parses the broker’s CBOR denial: the error carries the reason and certificate id', async (t) => {
  const message = 'seb denied the request: contract_mismatch (certificate c-1): monitoring:PutMetricAlarm on *';
  const { error } = await call(new PutMetricAlarmCommand(alarm), () => {
    const r = renderDenial({ protocol: 'smithy-rpc-v2-cbor', service: 'monitoring' }, { status: 403, message });
    return { status: r.status, headers: r.headers, body: r.body as Uint8Array };
  });
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  t.equal(e.$metadata?.httpStatusCode, 403);
  t.notMatch(e.name ?? '', /Unknown|SyntaxError|Deserialization/i, `a parsed AWS error (${e.name})`);
  t.equal(e.message, message);
});
