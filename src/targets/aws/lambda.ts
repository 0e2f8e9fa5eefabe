/**
 * Lambda (rest-json, API 2015-03-31): the routes the broker models (SPEC §2.1: rest protocols are
 * supported only for the services the broker models), from the botocore model's `requestUri`s.
 * Path segments are decoded strictly, once; anything a router could read another way is refused.
 */
import { parseStrictJson } from '../../lib/strict-json.js';
import { unparseable } from '../../reasons.js';
import { ACCOUNT, arnPartition } from './arn.js';
import { isCredentialVending, isRead } from './catalog.js';
import { anyResource, capacityProviderOf, codeSigningConfigOf, decodeSegment, eventSourceMappingOf, layerOf, layerVersionArnOf, layerVersionOf, type ResourceOf } from './lambda-resources.js';
import { parseQuery } from './query-string.js';
import { semanticHeaders } from './semantic-headers.js';
import type { AwsHttpRequest, AwsOperation, Permission } from './types.js';

export interface Route {
  readonly method: string;
  /** Literal segments, or `{Var}` for a path parameter. */
  readonly segments: readonly string[];
  readonly operation: string;
  /** The IAM action, when not `lambda:<operation>` (reference/aws.md §1: Invoke). */
  readonly action?: string;
  /** The body holds fields that decide the scope (FunctionName, Role, Layers). */
  readonly readsBody?: true;
  /** Takes a `Qualifier` query parameter (a version or alias) in the model. */
  readonly qualifier?: true;
  /** The resource, for a route that does not address a function (layers, event source mappings, ...). */
  readonly resource?: ResourceOf;
  /**
   * The only query names the route takes, where another operation shares its path and is told
   * apart by a query literal (GetLayerVersionByArn is `GET /2018-10-31/layers?find=LayerVersion`).
   */
  readonly query?: readonly string[];
  /** A query literal the route needs (`?List=ALL`), listed before the route that shares its path. */
  readonly literal?: readonly [name: string, value: string];
}

/** `/{version}/functions/{FunctionName}`: Lambda's path prefix for one function at one API version. */
const fn = (version: string): string[] => [version, 'functions', '{FunctionName}'];
const F = fn('2015-03-31');
const LAYERS = ['2018-10-31', 'layers'];
const LAYER = [...LAYERS, '{LayerName}'];
const LAYER_VERSION = [...LAYER, 'versions', '{VersionNumber}'];
const ESM = ['2015-03-31', 'event-source-mappings'];
const CSC = ['2020-04-22', 'code-signing-configs'];
const CAPACITY_PROVIDERS = ['2025-11-30', 'capacity-providers'];
type Ops = readonly (readonly [method: string, operation: string])[];
/** One route per `[method, operation]` at `segments`, each with `extra` (a qualifier, a resource rule). */
const on = (segments: readonly string[], ops: Ops, extra: Partial<Route> = {}): Route[] =>
  ops.map(([method, operation]) => ({ method, segments, operation, ...extra }));
/** One function setting at `/{version}/functions/{FunctionName}/{name}`, each operation taking a Qualifier. */
const at = (version: string, name: string, ops: Ops): Route[] => on([...fn(version), name], ops, { qualifier: true });
export const LAMBDA_ROUTES: readonly Route[] = [
  { method: 'GET', segments: ['2015-03-31', 'functions'], operation: 'ListFunctions' },
  { method: 'POST', segments: ['2015-03-31', 'functions'], operation: 'CreateFunction', readsBody: true },
  { method: 'GET', segments: F, operation: 'GetFunction', qualifier: true },
  { method: 'DELETE', segments: F, operation: 'DeleteFunction', qualifier: true },
  { method: 'GET', segments: [...F, 'configuration'], operation: 'GetFunctionConfiguration', qualifier: true },
  { method: 'PUT', segments: [...F, 'configuration'], operation: 'UpdateFunctionConfiguration', readsBody: true },
  { method: 'PUT', segments: [...F, 'code'], operation: 'UpdateFunctionCode' },
  { method: 'POST', segments: [...F, 'invocations'], operation: 'Invoke', action: 'lambda:InvokeFunction', qualifier: true },
  { method: 'POST', segments: [...F, 'versions'], operation: 'PublishVersion' },
  { method: 'GET', segments: [...F, 'versions'], operation: 'ListVersionsByFunction' },
  { method: 'POST', segments: [...F, 'aliases'], operation: 'CreateAlias' },
  { method: 'GET', segments: [...F, 'aliases'], operation: 'ListAliases' },
  { method: 'GET', segments: [...F, 'aliases', '{Name}'], operation: 'GetAlias' },
  { method: 'PUT', segments: [...F, 'aliases', '{Name}'], operation: 'UpdateAlias' },
  { method: 'DELETE', segments: [...F, 'aliases', '{Name}'], operation: 'DeleteAlias' },
  { method: 'POST', segments: [...F, 'policy'], operation: 'AddPermission', qualifier: true },
  { method: 'GET', segments: [...F, 'policy'], operation: 'GetPolicy', qualifier: true },
  { method: 'DELETE', segments: [...F, 'policy', '{StatementId}'], operation: 'RemovePermission', qualifier: true },
  // Function settings at their own API versions; each is scoped to the function ARN (service
  // authorization reference: resource type `function`), and to the qualified ARN with a Qualifier.
  ...at('2019-09-25', 'event-invoke-config', [
    ['GET', 'GetFunctionEventInvokeConfig'],
    ['PUT', 'PutFunctionEventInvokeConfig'],
    ['POST', 'UpdateFunctionEventInvokeConfig'],
    ['DELETE', 'DeleteFunctionEventInvokeConfig'],
  ]),
  { method: 'GET', segments: [...fn('2019-09-25'), 'event-invoke-config', 'list'], operation: 'ListFunctionEventInvokeConfigs' },
  ...at('2021-10-31', 'url', [
    ['GET', 'GetFunctionUrlConfig'],
    ['POST', 'CreateFunctionUrlConfig'],
    ['PUT', 'UpdateFunctionUrlConfig'],
    ['DELETE', 'DeleteFunctionUrlConfig'],
  ]),
  { method: 'GET', segments: [...fn('2021-10-31'), 'urls'], operation: 'ListFunctionUrlConfigs' },
  { method: 'PUT', segments: [...fn('2017-10-31'), 'concurrency'], operation: 'PutFunctionConcurrency' },
  { method: 'DELETE', segments: [...fn('2017-10-31'), 'concurrency'], operation: 'DeleteFunctionConcurrency' },
  { method: 'GET', segments: [...fn('2019-09-30'), 'concurrency'], operation: 'GetFunctionConcurrency' },
  // GET is ListProvisionedConcurrencyConfigs with `?List=ALL`, else GetProvisionedConcurrencyConfig;
  // each takes only its own query names, so neither is read as the other.
  { method: 'GET', segments: [...fn('2019-09-30'), 'provisioned-concurrency'], operation: 'ListProvisionedConcurrencyConfigs', literal: ['List', 'ALL'], query: ['List', 'Marker', 'MaxItems'] },
  ...at('2019-09-30', 'provisioned-concurrency', [
    ['GET', 'GetProvisionedConcurrencyConfig'],
    ['PUT', 'PutProvisionedConcurrencyConfig'],
    ['DELETE', 'DeleteProvisionedConcurrencyConfig'],
  ]).map((r) => ({ ...r, query: ['Qualifier'] })),
  // PUT names a code signing config in its body, another resource the session policy would need.
  { method: 'GET', segments: [...fn('2020-06-30'), 'code-signing-config'], operation: 'GetFunctionCodeSigningConfig' },
  { method: 'DELETE', segments: [...fn('2020-06-30'), 'code-signing-config'], operation: 'DeleteFunctionCodeSigningConfig' },
  ...at('2021-07-20', 'runtime-management-config', [
    ['GET', 'GetRuntimeManagementConfig'],
    ['PUT', 'PutRuntimeManagementConfig'],
  ]),
  { method: 'GET', segments: [...fn('2024-08-31'), 'recursion-config'], operation: 'GetFunctionRecursionConfig' },
  { method: 'PUT', segments: [...fn('2024-08-31'), 'recursion-config'], operation: 'PutFunctionRecursionConfig' },
  ...at('2025-11-30', 'function-scaling-config', [
    ['GET', 'GetFunctionScalingConfig'],
    ['PUT', 'PutFunctionScalingConfig'],
  ]),
  { method: 'GET', segments: [...fn('2025-12-01'), 'durable-executions'], operation: 'ListDurableExecutionsByFunction', qualifier: true },
  // A streamed invocation is authorised as any other invocation (the reference has no action of its own).
  { method: 'POST', segments: [...fn('2021-11-15'), 'response-streaming-invocations'], operation: 'InvokeWithResponseStream', action: 'lambda:InvokeFunction', qualifier: true },
  { method: 'POST', segments: [...fn('2014-11-13'), 'invoke-async'], operation: 'InvokeAsync' },
  // Resources beside functions: their labels stay in params, the ARN is built from them.
  // The reference has no action of its own for it: the layer version is read with GetLayerVersion.
  { method: 'GET', segments: LAYERS, operation: 'GetLayerVersionByArn', action: 'lambda:GetLayerVersion', literal: ['find', 'LayerVersion'], query: ['find', 'Arn'], resource: layerVersionArnOf },
  { method: 'GET', segments: LAYERS, operation: 'ListLayers', resource: anyResource, query: ['CompatibleRuntime', 'CompatibleArchitecture', 'Marker', 'MaxItems'] },
  { method: 'GET', segments: [...LAYER, 'versions'], operation: 'ListLayerVersions', resource: anyResource },
  { method: 'POST', segments: [...LAYER, 'versions'], operation: 'PublishLayerVersion', resource: layerOf },
  ...on(LAYER_VERSION, [['GET', 'GetLayerVersion'], ['DELETE', 'DeleteLayerVersion']], { resource: layerVersionOf }),
  ...on([...LAYER_VERSION, 'policy'], [['GET', 'GetLayerVersionPolicy'], ['POST', 'AddLayerVersionPermission']], { resource: layerVersionOf }),
  { method: 'DELETE', segments: [...LAYER_VERSION, 'policy', '{StatementId}'], operation: 'RemoveLayerVersionPermission', resource: layerVersionOf },
  // The reference gives CreateEventSourceMapping no resource type: the function is a condition key.
  ...on(ESM, [['GET', 'ListEventSourceMappings'], ['POST', 'CreateEventSourceMapping']], { resource: anyResource }),
  ...on([...ESM, '{UUID}'], [['GET', 'GetEventSourceMapping'], ['PUT', 'UpdateEventSourceMapping'], ['DELETE', 'DeleteEventSourceMapping']], {
    resource: eventSourceMappingOf,
  }),
  ...on(CSC, [['GET', 'ListCodeSigningConfigs'], ['POST', 'CreateCodeSigningConfig']], { resource: anyResource }),
  ...on([...CSC, '{CodeSigningConfigArn}'], [['GET', 'GetCodeSigningConfig'], ['PUT', 'UpdateCodeSigningConfig'], ['DELETE', 'DeleteCodeSigningConfig']], {
    resource: codeSigningConfigOf,
  }),
  { method: 'GET', segments: [...CSC, '{CodeSigningConfigArn}', 'functions'], operation: 'ListFunctionsByCodeSigningConfig', resource: codeSigningConfigOf },
  { method: 'GET', segments: ['2016-08-19', 'account-settings'], operation: 'GetAccountSettings', resource: anyResource },
  // CreateCapacityProvider names its provider in the body: not modeled.
  { method: 'GET', segments: CAPACITY_PROVIDERS, operation: 'ListCapacityProviders', resource: anyResource },
  ...on([...CAPACITY_PROVIDERS, '{CapacityProviderName}'], [['GET', 'GetCapacityProvider'], ['PUT', 'UpdateCapacityProvider'], ['DELETE', 'DeleteCapacityProvider']], {
    resource: capacityProviderOf,
  }),
  {
    method: 'GET',
    segments: [...CAPACITY_PROVIDERS, '{CapacityProviderName}', 'function-versions'],
    operation: 'ListFunctionVersionsByCapacityProvider',
    resource: capacityProviderOf,
  },
  { method: 'POST', segments: ['2017-03-31', 'tags', '{Resource}'], operation: 'TagResource' },
  { method: 'DELETE', segments: ['2017-03-31', 'tags', '{Resource}'], operation: 'UntagResource' },
  { method: 'GET', segments: ['2017-03-31', 'tags', '{Resource}'], operation: 'ListTags' },
];

const NAME = '[a-zA-Z0-9_-]{1,64}';
const QUALIFIER = '\\$LATEST|[a-zA-Z0-9_-]{1,128}';
const FULL_ARN = new RegExp(`^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\\d{12}):function:(${NAME})(?::(${QUALIFIER}))?$`);
const PARTIAL_ARN = new RegExp(`^(\\d{12}):function:(${NAME})(?::(${QUALIFIER}))?$`);
const BARE = new RegExp(`^(${NAME})(?::(${QUALIFIER}))?$`);
const QUALIFIER_ONLY = new RegExp(`^(?:${QUALIFIER})$`);
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\x21-\x29\x2b-\x3e\x40-\x7e]*\/)?[\w+=,.@-]{1,64}$/;
const LAYER_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[a-zA-Z0-9_-]{1,140}:\d{1,9}$/;

/** Reads a Lambda request; `null` when its scope is in a body that has not arrived yet. */
export function understandLambda(req: AwsHttpRequest, region: string, payload: Buffer | null): AwsOperation | null {
  const params = parseQuery(req.query);
  const { route, vars } = matchRoute(req, params);
  const other = route.query && Object.keys(params).find((name) => !(route.query ?? []).includes(name));
  if (other) throw unparseable(`${route.operation} does not take query parameter ${other}`);
  for (const [name, value] of Object.entries(vars)) {
    // FunctionName and Resource too: Lambda reads only the path, the pin would name another resource.
    if (name in params) throw unparseable(`${name} is both a path and a query parameter`);
    if (name === 'FunctionName' || name === 'Resource') continue;
    params[name] = value;
  }
  let body: Record<string, unknown> | undefined;
  if (route.readsBody) {
    if (payload === null) return null;
    body = jsonObject(payload);
  }
  const action = route.action ?? `lambda:${route.operation}`;
  let resource = '*';
  const permissions: Permission[] = [];
  if (route.operation === 'ListFunctions') {
    permissions.push({ action, resource });
  } else if (route.resource !== undefined) {
    // Path labels and query parameters (GetLayerVersionByArn's `Arn`), all pinned in params.
    resource = route.resource(params, region);
    permissions.push({ action, resource });
  } else if (vars['Resource'] !== undefined) {
    // Tags address a function by its full, unqualified ARN.
    const arn = vars['Resource'];
    if (!FULL_ARN.test(arn) || arn.split(':').length !== 7) {
      throw unparseable('a Lambda tag resource must be a full, unqualified function ARN');
    }
    resource = functionArn(arn, region);
    permissions.push({ action, resource });
  } else {
    const name = vars['FunctionName'] ?? requiredBodyString(body, 'FunctionName');
    resource = functionArn(name, region);
    permissions.push({ action, resource });
    const qualifier = route.qualifier ? params['Qualifier'] : undefined;
    if (qualifier !== undefined) {
      if (!QUALIFIER_ONLY.test(qualifier)) throw unparseable('Qualifier is not a version or alias name');
      if (resource.split(':').length !== 7) throw unparseable('a qualifier is given both in FunctionName and as Qualifier');
      // IAM checks a qualified call against the qualified ARN.
      permissions.push({ action, resource: `${resource}:${qualifier}` });
    }
  }
  if (body) permissions.push(...bodyPermissions(route.operation, body));
  return {
    service: 'lambda',
    region,
    protocol: 'rest-json',
    operation: route.operation,
    resource,
    params,
    headers: semanticHeaders(req.headers),
    permissions,
    read: isRead('lambda', route.operation),
    credentialVending: isCredentialVending('lambda', route.operation),
  };
}

function matchRoute(req: AwsHttpRequest, params: Readonly<Record<string, string>>): { route: Route; vars: Record<string, string> } {
  if (!req.path.startsWith('/')) throw unparseable('the path does not start with /');
  const raw = req.path.slice(1).split('/');
  for (const route of LAMBDA_ROUTES) {
    if (route.method !== req.method || route.segments.length !== raw.length) continue;
    // Literal segments must arrive literally: an encoded literal could route differently upstream.
    if (!route.segments.every((s, i) => s.startsWith('{') || s === raw[i])) continue;
    if (route.literal && params[route.literal[0]] !== route.literal[1]) continue;
    const vars: Record<string, string> = Object.create(null);
    route.segments.forEach((s, i) => {
      if (s.startsWith('{')) vars[s.slice(1, -1)] = decodeSegment(raw[i]!);
    });
    return { route, vars };
  }
  throw unparseable(`${req.method} ${req.path.split('?')[0]} is not a Lambda operation the broker models`);
}

/**
 * The function ARN a FunctionName means: a bare name, a partial ARN (`ACCOUNT:function:NAME`) or
 * a full ARN of the request's region, each optionally with `:QUALIFIER` (kept in the ARN).
 */
export function functionArn(functionName: string, region: string): string {
  const partition = arnPartition(region);
  let m = FULL_ARN.exec(functionName);
  if (m) {
    if (m[1] !== partition || m[2] !== region) throw unparseable('a function ARN must be in the request\'s region');
    return functionName;
  }
  m = PARTIAL_ARN.exec(functionName);
  if (m) return `arn:${partition}:lambda:${region}:${m[1]}:function:${m[2]}${m[3] ? `:${m[3]}` : ''}`;
  m = BARE.exec(functionName);
  if (m) return `arn:${partition}:lambda:${region}:${ACCOUNT}:function:${m[1]}${m[2] ? `:${m[2]}` : ''}`;
  throw unparseable('FunctionName is not a function name or ARN');
}

// CreateFunction and UpdateFunctionConfiguration pass a role to Lambda and may attach layers.
function bodyPermissions(operation: string, body: Record<string, unknown>): Permission[] {
  const permissions: Permission[] = [];
  const role = bodyString(body, 'Role', operation === 'CreateFunction');
  if (role !== undefined) {
    if (!ROLE_ARN.test(role)) throw unparseable('Role is not an IAM role ARN');
    permissions.push({ action: 'iam:PassRole', resource: role });
  }
  const layers = body['Layers'];
  if (layers !== undefined) {
    if (!Array.isArray(layers)) throw unparseable('Layers must be a list');
    for (const layer of layers) {
      if (typeof layer !== 'string' || !LAYER_ARN.test(layer)) throw unparseable('a layer is not a layer version ARN');
      permissions.push({ action: 'lambda:GetLayerVersion', resource: layer });
    }
  }
  return permissions;
}

function jsonObject(payload: Buffer): Record<string, unknown> {
  const body = parseStrictJson(payload);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw unparseable('the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** A member the operation cannot go without: its body must be read and hold it as a string. */
function requiredBodyString(body: Record<string, unknown> | undefined, name: string): string {
  const value = body && Object.hasOwn(body, name) ? body[name] : undefined;
  if (typeof value !== 'string') throw unparseable(`${name} must be a string in the body`);
  return value;
}

function bodyString(body: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') throw unparseable(`${name} must be a string in the body`);
  return value;
}
