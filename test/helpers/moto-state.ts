/**
 * What moto holds, read as its administrator with @aws-sdk/client-* straight to moto, for the
 * end-to-end tests' state checks of REST services. Not the aws CLI: moto answers the CLI v1's
 * signed GETs (SignedHeaders=host;x-amz-date, no body) with SignatureDoesNotMatch. Not through the
 * broker either: a state check must not go through what it checks. Callers must call `close`.
 */
import { APIGatewayClient, GetRestApisCommand } from '@aws-sdk/client-api-gateway';
import { ApiGatewayV2Client, GetApisCommand } from '@aws-sdk/client-apigatewayv2';
import { AppSyncClient, ListGraphqlApisCommand } from '@aws-sdk/client-appsync';
import { DescribeFileSystemsCommand, EFSClient } from '@aws-sdk/client-efs';
import { EKSClient, ListClustersCommand } from '@aws-sdk/client-eks';
import { IoTClient, ListThingsCommand } from '@aws-sdk/client-iot';
import { ListDomainNamesCommand, OpenSearchClient } from '@aws-sdk/client-opensearch';
import { ListHostedZonesCommand, Route53Client } from '@aws-sdk/client-route-53';
import { ListScheduleGroupsCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { startMoto, type Moto } from './moto.js';
import { startTestBroker, type TestBroker } from './broker.js';
import { AGENT_REGION } from './aws-sdk.js';

/** Names (or tokens) of what a service holds; a call's state check finds its own among them. */
export type Names = () => Promise<readonly (string | undefined)[]>;

export interface MotoState {
  readonly eksClusters: Names;
  readonly restApis: Names;
  readonly httpApis: Names;
  readonly hostedZones: Names;
  /** EFS file systems by creation token. */
  readonly fileSystems: Names;
  readonly graphqlApis: Names;
  readonly things: Names;
  readonly domains: Names;
  readonly scheduleGroups: Names;
  /** The SDK client itself, for a check that needs more than names. */
  readonly eks: EKSClient;
  close(): void;
}

export function motoState(moto: Moto): MotoState {
  const config = { endpoint: moto.endpoint, region: AGENT_REGION, credentials: moto.admin, maxAttempts: 1 };
  const eks = new EKSClient(config);
  const apigateway = new APIGatewayClient(config);
  const apigatewayv2 = new ApiGatewayV2Client(config);
  const route53 = new Route53Client(config);
  const efs = new EFSClient(config);
  const appsync = new AppSyncClient(config);
  const iot = new IoTClient(config);
  const opensearch = new OpenSearchClient(config);
  const scheduler = new SchedulerClient(config);
  const clients = [eks, apigateway, apigatewayv2, route53, efs, appsync, iot, opensearch, scheduler];
  return {
    eksClusters: async () => (await eks.send(new ListClustersCommand({}))).clusters ?? [],
    restApis: async () => (await apigateway.send(new GetRestApisCommand({}))).items?.map((a) => a.name) ?? [],
    httpApis: async () => (await apigatewayv2.send(new GetApisCommand({}))).Items?.map((a) => a.Name) ?? [],
    hostedZones: async () => (await route53.send(new ListHostedZonesCommand({}))).HostedZones?.map((z) => z.Name) ?? [],
    fileSystems: async () => (await efs.send(new DescribeFileSystemsCommand({}))).FileSystems?.map((f) => f.CreationToken) ?? [],
    graphqlApis: async () => (await appsync.send(new ListGraphqlApisCommand({}))).graphqlApis?.map((a) => a.name) ?? [],
    things: async () => (await iot.send(new ListThingsCommand({}))).things?.map((th) => th.thingName) ?? [],
    domains: async () => (await opensearch.send(new ListDomainNamesCommand({}))).DomainNames?.map((d) => d.DomainName) ?? [],
    scheduleGroups: async () => (await scheduler.send(new ListScheduleGroupsCommand({}))).ScheduleGroups?.map((g) => g.Name) ?? [],
    eks,
    close: () => {
      for (const c of clients) c.destroy();
    },
  };
}

/** moto, a test broker in front of it and moto's state reader, each closed when `t` ends. */
export async function startMotoWithState(t: { teardown(fn: () => unknown): void }): Promise<{ moto: Moto; tb: TestBroker; state: MotoState }> {
  const moto = await startMoto();
  t.teardown(() => moto.stop());
  const tb = await startTestBroker(moto);
  t.teardown(() => tb.close());
  const state = motoState(moto);
  t.teardown(() => state.close());
  return { moto, tb, state };
}
