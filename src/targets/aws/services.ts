/**
 * The broker's own table of AWS services, generated from botocore by scripts/gen-aws-services.py
 * and shipped as data (SPEC §2.1: the broker resolves a request to a service by its own table).
 * Compiled once at import into Maps and Sets: the per-request cost is one lookup each.
 * Several models can share a signing name; see SigningGroup.
 */
import data from './data/services.json' with { type: 'json' };
import type { Protocol } from './types.js';

interface ServiceEntry {
  readonly model: string;
  readonly protocols: readonly string[];
  readonly targetPrefix?: string;
  readonly jsonVersion?: string;
  readonly apiVersion: string;
  readonly endpointPrefix: string;
  readonly global: boolean;
  readonly operations: readonly string[];
  readonly actionMember?: readonly string[];
  readonly hostPrefix?: Readonly<Record<string, string>>;
}

interface ServicesFile {
  readonly services: Readonly<Record<string, ServiceEntry>>;
  /** The models served beside a signing name's own (DynamoDB Streams beside DynamoDB, ...). */
  readonly models: Readonly<Record<string, readonly ServiceEntry[]>>;
  readonly globalEndpoints: Readonly<Record<string, Readonly<Record<string, readonly [string, string]>>>>;
  readonly partitions: readonly { readonly id: string; readonly regionRegex: string; readonly dnsSuffix: string }[];
}

/** One served service model; several can share a SigV4 signing name. */
export interface ServiceModel {
  readonly signingName: string;
  /** botocore's name for the model (`dynamodbstreams`, `elb`, `s3control`). */
  readonly model: string;
  /** The protocols the broker reads for it, in botocore's order of preference. */
  readonly protocols: readonly Protocol[];
  readonly targetPrefix: string | null;
  /** `application/x-amz-json-<jsonVersion>`. */
  readonly jsonVersion: string | null;
  readonly apiVersion: string;
  readonly endpointPrefix: string;
  /** Served from one global endpoint: requests carry `region: null` (SPEC §2.1). */
  readonly global: boolean;
  readonly operations: ReadonlySet<string>;
  /** json operations whose input has a top-level `Action` member. */
  readonly actionMember: ReadonlySet<string>;
  /** json operations served at a prefixed host (`sync-states...` for StartSyncExecution): operation -> prefix. */
  readonly hostPrefix: ReadonlyMap<string, string>;
}

export interface Partition {
  readonly id: string;
  readonly regionRegex: RegExp;
  readonly dnsSuffix: string;
}

/**
 * Every model behind one signing name. The request picks one the way the service does (SPEC
 * §2.1): json by its X-Amz-Target prefix, rpc-v2-cbor by the service name in its path (the same
 * target prefix), query by its Version, rest by its path (rest-router.ts).
 */
export interface SigningGroup {
  /** The signing name's own model: the one its endpoint and catalog rows are for. */
  readonly own: ServiceModel;
  /** Every protocol some model of the group speaks. */
  readonly protocols: ReadonlySet<Protocol>;
  /** json and rpc-v2-cbor models by target prefix (Timestream's write and query models share one). */
  readonly byTarget: ReadonlyMap<string, readonly ServiceModel[]>;
  /** query models by API version (the generator keeps one model per version). */
  readonly byVersion: ReadonlyMap<string, ServiceModel>;
  readonly byModel: ReadonlyMap<string, ServiceModel>;
}

const file = data as unknown as ServicesFile;

function compile(signingName: string, e: ServiceEntry): ServiceModel {
  return {
    signingName,
    model: e.model,
    protocols: e.protocols as Protocol[],
    targetPrefix: e.targetPrefix ?? null,
    jsonVersion: e.jsonVersion ?? null,
    apiVersion: e.apiVersion,
    endpointPrefix: e.endpointPrefix,
    global: e.global,
    operations: new Set(e.operations),
    actionMember: new Set(e.actionMember ?? []),
    hostPrefix: new Map(Object.entries(e.hostPrefix ?? {})),
  };
}

function group(own: ServiceModel, others: readonly ServiceModel[]): SigningGroup {
  const all = [own, ...others];
  const byTarget = new Map<string, ServiceModel[]>();
  const byVersion = new Map<string, ServiceModel>();
  for (const m of all) {
    if (m.targetPrefix !== null) byTarget.set(m.targetPrefix, [...(byTarget.get(m.targetPrefix) ?? []), m]);
    if (m.protocols.includes('query') || m.protocols.includes('ec2')) byVersion.set(m.apiVersion, m);
  }
  return {
    own,
    protocols: new Set(all.flatMap((m) => m.protocols)),
    byTarget,
    byVersion,
    byModel: new Map(all.map((m) => [m.model, m])),
  };
}

const GROUPS: ReadonlyMap<string, SigningGroup> = new Map(
  Object.entries(file.services).map(([signingName, e]) => [
    signingName,
    group(compile(signingName, e), (file.models[signingName] ?? []).map((m) => compile(signingName, m))),
  ]),
);

const PARTITIONS: readonly Partition[] = file.partitions.map((p) => ({
  id: p.id,
  regionRegex: new RegExp(p.regionRegex),
  dnsSuffix: p.dnsSuffix,
}));
const AWS_PARTITION = PARTITIONS.find((p) => p.id === 'aws')!;

/** The signing name's own model, or `undefined` when the signing name is not served. */
export function serviceModel(signingName: string): ServiceModel | undefined {
  return GROUPS.get(signingName)?.own;
}

/** Every served model behind a signing name, or `undefined`. */
export function signingGroup(signingName: string): SigningGroup | undefined {
  return GROUPS.get(signingName);
}

/** The partition a region belongs to; `aws` when no other partition claims it. */
export function partitionOf(region: string): Partition {
  return PARTITIONS.find((p) => p.id !== 'aws' && p.regionRegex.test(region)) ?? AWS_PARTITION;
}

/** `[host, signing region]` of a non-regionalised service in a partition, if it has one. */
export function globalEndpoint(service: string, partition: string): readonly [string, string] | undefined {
  return file.globalEndpoints[service]?.[partition];
}
