/**
 * DynamoDB operations whose resources the broker derives precisely. `TableName` may be a bare name
 * or a full table ARN (reference/aws.md §1); a full ARN must be for the request's region, and is
 * then the resource as written (SPEC §2.1: it must equal the certificate's `resource`).
 */
import { unparseable } from '../../reasons.js';
import { ACCOUNT, arnPartition } from './arn.js';
import { stringField, type Describer, type Scope } from './catalog-describer.js';
import type { Permission } from './types.js';

const TABLE_NAME = /^[a-zA-Z0-9_.-]{1,255}$/;
const INDEX_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;
const TABLE_ARN = /^arn:(aws[a-z-]*):dynamodb:([a-z0-9-]+):(\d{12}):table\/([a-zA-Z0-9_.-]{1,255})$/;
// Any DynamoDB resource ARN (table, index, stream, backup, export, import) for ResourceArn fields.
const RESOURCE_ARN = /^arn:(aws[a-z-]*):dynamodb:([a-z0-9-]+):(\d{12}):table\/[a-zA-Z0-9_.-]{1,255}(\/[a-zA-Z0-9_.:/-]+)?$/;

// The IAM action each TransactWriteItems / TransactGetItems member needs on its table.
const TRANSACT_ACTION: Readonly<Record<string, string>> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
  Get: 'dynamodb:GetItem',
};

export const describeDynamodb: Describer = (operation, region, input) => {
  const action = `dynamodb:${operation}`;
  if (operation === 'BatchWriteItem' || operation === 'BatchGetItem') {
    const items = input['RequestItems'];
    if (!isObject(items) || Object.keys(items).length === 0) throw unparseable(`${operation} needs RequestItems`);
    return { resource: '*', permissions: Object.keys(items).map((t) => ({ action, resource: tableArn(t, region) })) };
  }
  if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') return transactScope(operation, region, input);
  const tableName = stringField(input, 'TableName');
  if (tableName !== undefined) {
    const resource = tableArn(tableName, region);
    const permissions: Permission[] = [{ action, resource }];
    const indexName = stringField(input, 'IndexName');
    if (indexName !== undefined) {
      if (!INDEX_NAME.test(indexName)) throw unparseable('IndexName is not a valid index name');
      permissions.push({ action, resource: `${resource}/index/${indexName}` });
    }
    return { resource, permissions };
  }
  for (const field of ['ResourceArn', 'TableArn']) {
    const arn = stringField(input, field);
    if (arn === undefined) continue;
    const m = RESOURCE_ARN.exec(arn);
    if (!m || m[1] !== arnPartition(region) || m[2] !== region) {
      throw unparseable(`${field} is not a DynamoDB ARN in the request's region`);
    }
    return { resource: arn, permissions: [{ action, resource: arn }] };
  }
  return undefined;
};

function transactScope(operation: string, region: string | null, input: Readonly<Record<string, unknown>>): Scope {
  const items = input['TransactItems'];
  if (!Array.isArray(items) || items.length === 0) throw unparseable(`${operation} needs TransactItems`);
  const permissions: Permission[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const kinds = isObject(item) ? Object.keys(item) : [];
    const kind = kinds[0];
    const action = kind === undefined ? undefined : TRANSACT_ACTION[kind];
    const member = kind === undefined ? undefined : (item as Record<string, unknown>)[kind];
    if (kinds.length !== 1 || action === undefined || !isObject(member)) {
      throw unparseable(`each ${operation} item needs exactly one action`);
    }
    const table = stringField(member, 'TableName');
    if (table === undefined) throw unparseable(`each ${operation} item needs a TableName`);
    const resource = tableArn(table, region);
    if (seen.has(`${action} ${resource}`)) continue;
    seen.add(`${action} ${resource}`);
    permissions.push({ action, resource });
  }
  return { resource: '*', permissions };
}

/** A table name or full table ARN, as the table ARN the session policy names. */
export function tableArn(nameOrArn: string, region: string | null): string {
  if (nameOrArn.startsWith('arn:')) {
    const m = TABLE_ARN.exec(nameOrArn);
    if (!m || m[1] !== arnPartition(region) || m[2] !== region) {
      throw unparseable('a table ARN must be a DynamoDB table in the request\'s region');
    }
    return nameOrArn;
  }
  if (!TABLE_NAME.test(nameOrArn)) throw unparseable('a TableName is not a valid table name');
  return `arn:${arnPartition(region)}:dynamodb:${region ?? ''}:${ACCOUNT}:table/${nameOrArn}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
