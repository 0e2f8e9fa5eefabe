/**
 * The IAM actions the session policy names for an operation the broker scopes to `*` (SPEC §2.1:
 * "derived from [the operation] by the broker's own table"). Most actions are `<prefix>:<Operation>`;
 * where the IAM Service Authorization Reference names them otherwise, these tables say so. moto
 * ignores session policies, so a wrong name here passes every local test and fails every call on
 * AWS: test/targets/aws/iam-actions.test.ts checks each name against the reference.
 */
import type { Scope } from './catalog-describer.js';

// Signing names whose IAM action prefix differs (reference/aws.md §1: `monitoring` signs CloudWatch;
// the others from the service authorization reference's service prefixes).
const IAM_PREFIX: Readonly<Record<string, string>> = {
  monitoring: 'cloudwatch',
  email: 'ses',
  IoTSecuredTunneling: 'iot',
  iotdata: 'iot',
  ioteventsdata: 'iotevents',
  'iot-jobs-data': 'iotjobsdata',
  cloudcontrolapi: 'cloudformation',
  tagging: 'tag',
  'mturk-requester': 'mechanicalturk',
  'partnercentral-account': 'partnercentral',
  'partnercentral-benefits': 'partnercentral',
  'partnercentral-channel': 'partnercentral',
  'partnercentral-selling': 'partnercentral',
};

const BUDGET_VIEW = ['budgets:ViewBudget'];
const BUDGET_MODIFY = ['budgets:ModifyBudget'];

/**
 * Operations whose actions are not named like them, by `<signing name>:<Operation>` (the reference's
 * "Actions" table, or the service's own IAM page where it names the actions per API).
 */
const IAM_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  // The batch calls are authorised as their single forms.
  'sqs:SendMessageBatch': ['sqs:SendMessage'],
  'sqs:DeleteMessageBatch': ['sqs:DeleteMessage'],
  'sqs:ChangeMessageVisibilityBatch': ['sqs:ChangeMessageVisibility'],
  'sns:PublishBatch': ['sns:Publish'],
  // ReEncrypt needs both halves: decrypting under the source key, encrypting under the destination.
  'kms:ReEncrypt': ['kms:ReEncryptFrom', 'kms:ReEncryptTo'],
  'timestream:Query': ['timestream:Select'],
  // S3 Control's account-level Block Public Access (signed `s3`; S3's own bucket-level calls are s3-operations.ts).
  's3:GetPublicAccessBlock': ['s3:GetAccountPublicAccessBlock'],
  's3:PutPublicAccessBlock': ['s3:PutAccountPublicAccessBlock'],
  's3:DeletePublicAccessBlock': ['s3:PutAccountPublicAccessBlock'],
  // API Gateway's WebSocket management API: one action for its connection calls.
  'execute-api:PostToConnection': ['execute-api:ManageConnections'],
  'execute-api:GetConnection': ['execute-api:ManageConnections'],
  'execute-api:DeleteConnection': ['execute-api:ManageConnections'],
  'iot-jobs-data:StartCommandExecution': ['iot:StartCommandExecution'],
  // Bedrock's Converse API and asynchronous invocation are authorised as the model invocations.
  'bedrock:Converse': ['bedrock:InvokeModel'],
  'bedrock:ConverseStream': ['bedrock:InvokeModelWithResponseStream'],
  'bedrock:StartAsyncInvoke': ['bedrock:InvokeModel'],
  'cloudfront:CreateDistributionWithTags': ['cloudfront:CreateDistribution', 'cloudfront:TagResource'],
  // Verified Permissions' batch calls are authorised as their single forms.
  'verifiedpermissions:BatchIsAuthorized': ['verifiedpermissions:IsAuthorized'],
  'verifiedpermissions:BatchIsAuthorizedWithToken': ['verifiedpermissions:IsAuthorizedWithToken'],
  'verifiedpermissions:BatchGetPolicy': ['verifiedpermissions:GetPolicy'],
  // AWS Budgets authorises every budget, notification and subscriber call with two actions.
  'budgets:DescribeBudget': BUDGET_VIEW,
  'budgets:DescribeBudgets': BUDGET_VIEW,
  'budgets:DescribeBudgetPerformanceHistory': BUDGET_VIEW,
  'budgets:DescribeBudgetNotificationsForAccount': BUDGET_VIEW,
  'budgets:DescribeNotificationsForBudget': BUDGET_VIEW,
  'budgets:DescribeSubscribersForNotification': BUDGET_VIEW,
  'budgets:CreateBudget': BUDGET_MODIFY,
  'budgets:UpdateBudget': BUDGET_MODIFY,
  'budgets:DeleteBudget': BUDGET_MODIFY,
  'budgets:CreateNotification': BUDGET_MODIFY,
  'budgets:UpdateNotification': BUDGET_MODIFY,
  'budgets:DeleteNotification': BUDGET_MODIFY,
  'budgets:CreateSubscriber': BUDGET_MODIFY,
  'budgets:UpdateSubscriber': BUDGET_MODIFY,
  'budgets:DeleteSubscriber': BUDGET_MODIFY,
  // Amazon Keyspaces authorises its control plane with the CQL verbs (Create, Alter, Drop, Select, Restore).
  'cassandra:CreateKeyspace': ['cassandra:Create'],
  'cassandra:CreateTable': ['cassandra:Create'],
  'cassandra:CreateType': ['cassandra:Create'],
  'cassandra:UpdateKeyspace': ['cassandra:Alter'],
  'cassandra:UpdateTable': ['cassandra:Alter'],
  'cassandra:DeleteKeyspace': ['cassandra:Drop'],
  'cassandra:DeleteTable': ['cassandra:Drop'],
  'cassandra:DeleteType': ['cassandra:Drop'],
  'cassandra:GetKeyspace': ['cassandra:Select'],
  'cassandra:GetTable': ['cassandra:Select'],
  'cassandra:GetType': ['cassandra:Select'],
  'cassandra:GetTableAutoScalingSettings': ['cassandra:Select'],
  'cassandra:ListKeyspaces': ['cassandra:Select'],
  'cassandra:ListTables': ['cassandra:Select'],
  'cassandra:ListTypes': ['cassandra:Select'],
  'cassandra:ListTagsForResource': ['cassandra:Select'],
  'cassandra:RestoreTable': ['cassandra:Restore'],
};

/** The IAM actions of an operation: the table's, else `<iam prefix>:<Operation>`. */
export function iamActions(service: string, operation: string): readonly string[] {
  return IAM_ACTIONS[`${service}:${operation}`] ?? [`${IAM_PREFIX[service] ?? service}:${operation}`];
}

/** An operation's actions on `*`: for operations whose resource the broker does not derive. */
export function anyResourceScope(service: string, operation: string): Scope {
  return { resource: '*', permissions: iamActions(service, operation).map((action) => ({ action, resource: '*' })) };
}
