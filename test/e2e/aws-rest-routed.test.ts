/**
 * Services read by the generic REST router (rest-router.ts, SPEC §2.1 REST routing) end to end
 * against moto with SigV4 verified (issue 13): the unmodified aws CLI, and one @aws-sdk/client-eks
 * call, go capture (`seb op capture` in process) -> certify -> execute -> state checked in moto ->
 * the same call again refused `replay`, on the record.
 *
 * Guards two causes of refusals seen after routing landed: the aws CLI draws an idempotency token
 * per call for EKS CreateCluster, which capture must mark (data/idempotency-tokens.json, generated
 * for every served model), else the certified body never matches; and API Gateway's IAM actions
 * are verbs on the request path (catalog-rest.ts), which moto cannot check, so the op is asserted.
 */
import t from 'tap';
import { CreateClusterCommand, DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { awsCli } from '../helpers/aws-cli.js';
import { agentConfig } from '../helpers/aws-sdk.js';
import { startMotoWithState, type Names } from '../helpers/moto-state.js';

interface Row {
  /** The agent's command (without `aws`). */
  readonly call: readonly string[];
  /** What `seb op capture` must print for it. */
  readonly op: Record<string, unknown>;
  /** The names moto lists (read straight from moto, helpers/moto-state.ts); `expect` is among them once the call ran. */
  readonly state: Names;
  readonly expect: string;
}

const { tb, state } = await startMotoWithState(t);

const ROWS: readonly Row[] = [
  {
    // No --client-request-token: the CLI draws one, as an agent's command would.
    call: ['eks', 'create-cluster', '--name', 'seb-eks', '--role-arn', 'arn:aws:iam::123456789012:role/eks', '--resources-vpc-config', 'subnetIds=subnet-1'],
    op: { service: 'eks', operation: 'CreateCluster', volatile: [{ at: '/clientRequestToken', kind: 'idempotency_token' }] },
    state: state.eksClusters,
    expect: 'seb-eks',
  },
  {
    call: ['apigateway', 'create-rest-api', '--name', 'seb-api'],
    op: { service: 'apigateway', operation: 'CreateRestApi', resource: 'arn:aws:apigateway:us-east-1::/restapis' },
    state: state.restApis,
    expect: 'seb-api',
  },
  {
    // rest-xml, global: no region in the op.
    call: ['route53', 'create-hosted-zone', '--name', 'seb.example.com', '--caller-reference', 'seb-1'],
    op: { service: 'route53', operation: 'CreateHostedZone', region: null },
    state: state.hostedZones,
    expect: 'seb.example.com.',
  },
  {
    call: ['efs', 'create-file-system', '--creation-token', 'seb-fs'],
    op: { service: 'elasticfilesystem', operation: 'CreateFileSystem' },
    state: state.fileSystems,
    expect: 'seb-fs',
  },
];

/** The reason of the last deny record, so a refusal is checked on the record, not only in stderr. */
function lastDenial(): string | undefined {
  return tb.records.map((l) => JSON.parse(l) as { type: string; decision?: string; reason?: string })
    .filter((r) => r.type === 'decision' && r.decision === 'deny').at(-1)?.reason;
}

for (const row of ROWS) {
  t.test(`aws ${row.call.slice(0, 2).join(' ')}`, async (t) => {
    const ops = await tb.capture((url) => awsCli(row.call, url, 'placeholder-token'));
    t.equal(ops.length, 1, 'one op captured');
    t.match(ops[0], { target: 'aws', ...row.op });
    const { jws, jti } = await tb.cert(ops);
    const admitted = await awsCli(row.call, tb.url, jws);
    t.equal(admitted.code, 0, `admitted and executed: ${admitted.stderr}`);
    t.ok((await row.state()).includes(row.expect), `moto holds the new state (${row.expect})`);
    const replayed = await awsCli(row.call, tb.url, jws);
    t.not(replayed.code, 0, 'the single-use certificate is not admitted twice');
    t.equal(lastDenial(), 'replay');
    t.match(replayed.stderr, new RegExp(`replay.*${jti}`), 'the client reads the denial in its own protocol');
  });
}

t.test('a changed parameter is outside the certificate', async (t) => {
  const ops = await tb.capture((url) => awsCli(['apigateway', 'create-rest-api', '--name', 'seb-api-2'], url, 'placeholder-token'));
  const { jws } = await tb.cert(ops);
  const changed = await awsCli(['apigateway', 'create-rest-api', '--name', 'seb-api-3'], tb.url, jws);
  t.not(changed.code, 0);
  t.equal(lastDenial(), 'body_mismatch');
  t.notOk((await state.restApis()).includes('seb-api-3'), 'moto never saw it');
});

t.test('@aws-sdk/client-eks CreateCluster', async (t) => {
  const create = (url: string, token: string) =>
    new EKSClient(agentConfig(url, token)).send(
      new CreateClusterCommand({ name: 'seb-sdk', roleArn: 'arn:aws:iam::123456789012:role/eks', resourcesVpcConfig: { subnetIds: ['subnet-2'] } }),
    );
  const ops = await tb.capture((url) => create(url, 'placeholder-token'));
  t.match(ops, [{ service: 'eks', operation: 'CreateCluster', volatile: [{ at: '/clientRequestToken', kind: 'idempotency_token' }] }]);
  const { jws, jti } = await tb.cert(ops);
  t.equal((await create(tb.url, jws)).cluster?.name, 'seb-sdk', 'admitted and executed');
  // The SDK draws a new token for the second call too: refused as a replay all the same.
  await t.rejects(create(tb.url, jws), { name: 'AccessDeniedException', message: new RegExp(`replay.*${jti}`) });
  t.equal(lastDenial(), 'replay');
  const held = await state.eks.send(new DescribeClusterCommand({ name: 'seb-sdk' }));
  t.equal(held.cluster?.roleArn, 'arn:aws:iam::123456789012:role/eks', 'moto holds the new state');
});
