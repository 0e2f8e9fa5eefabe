/**
 * Real clients end to end against moto with SigV4 verified (issue 13), one table row per service:
 * the unmodified aws CLI's call is captured (`seb op capture` in process), certified, admitted and
 * executed; the same certificate replayed is refused; a certificate for the op refuses the call
 * with one parameter changed; and moto holds the new state.
 *
 * Rows the broker refuses carry `refusedToday`, the true reason: the test asserts that capture
 * finds no op and that the client read that reason. When the reader serves the row that assertion
 * fails: delete `refusedToday` to run the row in full.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { agentEnv, awsCli } from '../helpers/aws-cli.js';
import { startMotoWithState, type Names } from '../helpers/moto-state.js';
import { INSTALL_HINTS, requirePeer } from '../helpers/peers.js';

interface Row {
  /** The signing name: the op's service, and the IAM prefix. */
  readonly service: string;
  /** The agent's command (without `aws`). */
  readonly call: readonly string[];
  /** The same command with one parameter changed. */
  readonly changed: readonly string[];
  /**
   * What moto holds, which names `expect` once the call ran: an admin aws CLI command (POST
   * protocols), or names read by an SDK client (REST: moto refuses the CLI's signed GETs).
   */
  readonly state?: readonly string[] | ((s: typeof state) => Names);
  readonly expect?: string;
  /** The CLI ignores AWS_ENDPOINT_URL for this service (SQS): pass --endpoint-url. */
  readonly endpointFlag?: boolean;
  /** Why the broker refuses this row today (see docs/reference/aws-conformance.md): the client reads it. */
  readonly refusedToday?: RegExp;
}

// Idempotency tokens are given explicitly: the CLI would draw a fresh one per call, and a
// certificate pins the body it was issued for.
const ROWS: readonly Row[] = [
  { service: 'sns', call: ['sns', 'create-topic', '--name', 'seb-t1'], changed: ['sns', 'create-topic', '--name', 'seb-t2'], state: ['sns', 'list-topics'], expect: 'seb-t1' },
  { service: 'sqs', endpointFlag: true, call: ['sqs', 'create-queue', '--queue-name', 'seb-q1'], changed: ['sqs', 'create-queue', '--queue-name', 'seb-q2'], state: ['sqs', 'list-queues'], expect: 'seb-q1' },
  { service: 'ssm', call: ['ssm', 'put-parameter', '--name', '/seb/p1', '--value', 'v1', '--type', 'String'], changed: ['ssm', 'put-parameter', '--name', '/seb/p1', '--value', 'v2', '--type', 'String'], state: ['ssm', 'get-parameter', '--name', '/seb/p1'], expect: '"v1"' },
  { service: 'logs', call: ['logs', 'create-log-group', '--log-group-name', 'seb-g1'], changed: ['logs', 'create-log-group', '--log-group-name', 'seb-g2'], state: ['logs', 'describe-log-groups'], expect: 'seb-g1' },
  { service: 'kinesis', call: ['kinesis', 'create-stream', '--stream-name', 'seb-k1', '--shard-count', '1'], changed: ['kinesis', 'create-stream', '--stream-name', 'seb-k1', '--shard-count', '2'], state: ['kinesis', 'list-streams'], expect: 'seb-k1' },
  { service: 'ecr', call: ['ecr', 'create-repository', '--repository-name', 'seb-r1'], changed: ['ecr', 'create-repository', '--repository-name', 'seb-r2'], state: ['ecr', 'describe-repositories'], expect: 'seb-r1' },
  { service: 'ecs', call: ['ecs', 'create-cluster', '--cluster-name', 'seb-c1'], changed: ['ecs', 'create-cluster', '--cluster-name', 'seb-c2'], state: ['ecs', 'list-clusters'], expect: 'seb-c1' },
  { service: 'events', call: ['events', 'put-rule', '--name', 'seb-e1', '--schedule-expression', 'rate(5 minutes)'], changed: ['events', 'put-rule', '--name', 'seb-e1', '--schedule-expression', 'rate(6 minutes)'], state: ['events', 'list-rules'], expect: 'seb-e1' },
  {
    service: 'secretsmanager',
    call: ['secretsmanager', 'create-secret', '--name', 'seb-s1', '--secret-string', 'x', '--client-request-token', 'seb-token-0000000000000000000000001'],
    changed: ['secretsmanager', 'create-secret', '--name', 'seb-s2', '--secret-string', 'x', '--client-request-token', 'seb-token-0000000000000000000000001'],
    state: ['secretsmanager', 'list-secrets'],
    expect: 'seb-s1',
  },
  // REST-routed (rest-router.ts) and second models behind a signing name. No idempotency token is
  // given: the CLI draws one per call, and capture marks it volatile (data/idempotency-tokens.json).
  { service: 'eks', call: ['eks', 'create-cluster', '--name', 'seb-eks', '--role-arn', 'arn:aws:iam::123456789012:role/eks', '--resources-vpc-config', 'subnetIds=subnet-1'], changed: ['eks', 'create-cluster', '--name', 'seb-eks2', '--role-arn', 'arn:aws:iam::123456789012:role/eks', '--resources-vpc-config', 'subnetIds=subnet-1'], state: (s) => s.eksClusters, expect: 'seb-eks' },
  { service: 'apigateway', call: ['apigateway', 'create-rest-api', '--name', 'seb-api'], changed: ['apigateway', 'create-rest-api', '--name', 'seb-api-x'], state: (s) => s.restApis, expect: 'seb-api' },
  { service: 'apigateway', call: ['apigatewayv2', 'create-api', '--name', 'seb-api2', '--protocol-type', 'HTTP'], changed: ['apigatewayv2', 'create-api', '--name', 'seb-api2-x', '--protocol-type', 'HTTP'], state: (s) => s.httpApis, expect: 'seb-api2' },
  { service: 'route53', call: ['route53', 'create-hosted-zone', '--name', 'seb.example.com', '--caller-reference', 'seb-1'], changed: ['route53', 'create-hosted-zone', '--name', 'seb2.example.com', '--caller-reference', 'seb-1'], state: (s) => s.hostedZones, expect: 'seb.example.com.' },
  {
    // moto requires a service role that IAM holds: the executor role is one.
    service: 'batch',
    call: ['batch', 'create-compute-environment', '--compute-environment-name', 'seb-ce', '--type', 'UNMANAGED', '--service-role', 'arn:aws:iam::123456789012:role/seb-exec-all'],
    changed: ['batch', 'create-compute-environment', '--compute-environment-name', 'seb-ce2', '--type', 'UNMANAGED', '--service-role', 'arn:aws:iam::123456789012:role/seb-exec-all'],
    state: ['batch', 'describe-compute-environments'],
    expect: 'seb-ce',
  },
  { service: 'elasticfilesystem', call: ['efs', 'create-file-system', '--creation-token', 'seb-fs'], changed: ['efs', 'create-file-system', '--creation-token', 'seb-fs2'], state: (s) => s.fileSystems, expect: 'seb-fs' },
  { service: 'appsync', call: ['appsync', 'create-graphql-api', '--name', 'seb-gql', '--authentication-type', 'API_KEY'], changed: ['appsync', 'create-graphql-api', '--name', 'seb-gql2', '--authentication-type', 'API_KEY'], state: (s) => s.graphqlApis, expect: 'seb-gql' },
  { service: 'iot', call: ['iot', 'create-thing', '--thing-name', 'seb-thing'], changed: ['iot', 'create-thing', '--thing-name', 'seb-thing2'], state: (s) => s.things, expect: 'seb-thing' },
  { service: 'es', call: ['opensearch', 'create-domain', '--domain-name', 'seb-os'], changed: ['opensearch', 'create-domain', '--domain-name', 'seb-os2'], state: (s) => s.domains, expect: 'seb-os' },
  { service: 'scheduler', call: ['scheduler', 'create-schedule-group', '--name', 'seb-sg'], changed: ['scheduler', 'create-schedule-group', '--name', 'seb-sg2'], state: (s) => s.scheduleGroups, expect: 'seb-sg' },
  {
    // Classic ELB: query, signed `elasticloadbalancing` like ELBv2, told apart by its Version.
    service: 'elasticloadbalancing',
    call: ['elb', 'create-load-balancer', '--load-balancer-name', 'seb-clb', '--listeners', 'Protocol=HTTP,LoadBalancerPort=80,InstancePort=80', '--availability-zones', 'us-east-1a'],
    changed: ['elb', 'create-load-balancer', '--load-balancer-name', 'seb-clb2', '--listeners', 'Protocol=HTTP,LoadBalancerPort=80,InstancePort=80', '--availability-zones', 'us-east-1a'],
    state: ['elb', 'describe-load-balancers'],
    expect: 'seb-clb',
  },
  // SES v2 beside Pinpoint Email, both signed `ses`, both with CreateEmailIdentity: read, since the
  // two readings bind and forward the same (one host, one IAM action). moto keeps SES v1 and v2
  // identities in one store, and v1's list is a query POST the admin CLI can read.
  { service: 'ses', call: ['sesv2', 'create-email-identity', '--email-identity', 'seb@example.com'], changed: ['sesv2', 'create-email-identity', '--email-identity', 'seb2@example.com'], state: ['ses', 'list-identities'], expect: 'seb@example.com' },
  // The CLI puts the account id before the endpoint's host (`123456789012.127.0.0.1:port`), which
  // does not resolve: S3 Control is reached through the HTTPS tunnel, where the Host is AWS's.
  { service: 's3', call: ['s3control', 'put-public-access-block', '--account-id', '123456789012', '--public-access-block-configuration', 'BlockPublicAcls=true'], changed: [], refusedToday: /Could not connect to the endpoint URL: "http:\/\/123456789012\.127\.0\.0\.1:/ },
];

const { moto, tb, state } = await startMotoWithState(t);

/** The aws CLI as moto's administrator, to read the state a call left. */
function adminCli(args: readonly string[]): Promise<string> {
  const aws = requirePeer('aws', INSTALL_HINTS.aws);
  const env = { ...agentEnv(moto.endpoint, null), AWS_ACCESS_KEY_ID: moto.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.admin.secretAccessKey };
  return new Promise((resolve, reject) =>
    execFile(aws, [...args, '--endpoint-url', moto.endpoint], { env, timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
  );
}

// moto enforces IAM on the executor role (src/dev/moto.ts grants it S3, EC2, IAM, DynamoDB and
// Lambda): widen it, in this moto only, to the services the rows call.
const actions = [...new Set(ROWS.map((r) => `${r.service}:*`))];
await adminCli(['iam', 'put-role-policy', '--role-name', 'seb-exec-all', '--policy-name', 'aws-clients', '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] })]);

/** Runs the agent's CLI against `url`. */
const agentCall = (row: Row, args: readonly string[], url: string, token: string) => awsCli(row.endpointFlag ? [...args, '--endpoint-url', url] : args, url, token);

// Each row calls its own service with its own names, so rows run 4 at a time (the aws CLI's
// start-up dominates); the file's timeout covers a loaded CI machine.
const ROWS_AT_ONCE = 4;
t.setTimeout(900_000);

t.test('the rows', { jobs: ROWS_AT_ONCE }, async (t) => {
  for (const row of ROWS) {
    t.test(`aws ${row.call.slice(0, 2).join(' ')}`, async (t) => {
      let captureErr = '';
      const ops = await tb.capture(async (url) => {
        captureErr = (await agentCall(row, row.call, url, 'placeholder-token')).stderr;
      });
      if (row.refusedToday !== undefined) {
        t.same(ops, [], 'refused today; when this fails, the reader serves it: drop refusedToday');
        t.match(captureErr, row.refusedToday, 'for its known reason');
        return;
      }
      t.equal(ops.length, 1, 'one op captured');
      t.match(ops[0], { target: 'aws', service: row.service });
      const first = await tb.cert(ops);
      const admitted = await agentCall(row, row.call, tb.url, first.jws);
      t.equal(admitted.code, 0, `admitted and executed: ${admitted.stderr}`);
      const replayed = await agentCall(row, row.call, tb.url, first.jws);
      t.not(replayed.code, 0, 'the single-use certificate is not admitted twice');
      t.match(replayed.stderr, 'replay');
      const second = await tb.cert(ops);
      const changed = await agentCall(row, row.changed, tb.url, second.jws);
      t.not(changed.code, 0, 'a changed parameter is outside the certificate');
      t.notMatch(changed.stderr, 'replay', 'refused for the change, not as a replay');
      const held = typeof row.state === 'function' ? (await row.state(state)()).join('\n') : await adminCli(row.state!);
      t.match(held, row.expect!, 'moto holds the new state');
    });
  }
});
