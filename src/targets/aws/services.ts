/**
 * The broker's own table of AWS services, generated from botocore by scripts/gen-aws-services.py
 * and shipped as data (SPEC §2.1: the broker resolves a request to a service by its own table).
 * Compiled once at import into Maps and Sets: the per-request cost is one lookup each.
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
}

interface ServicesFile {
  readonly services: Readonly<Record<string, ServiceEntry>>;
  readonly globalEndpoints: Readonly<Record<string, Readonly<Record<string, readonly [string, string]>>>>;
  readonly partitions: readonly { readonly id: string; readonly regionRegex: string; readonly dnsSuffix: string }[];
}

/** One served service, by SigV4 signing name. */
export interface ServiceModel {
  readonly signingName: string;
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
}

export interface Partition {
  readonly id: string;
  readonly regionRegex: RegExp;
  readonly dnsSuffix: string;
}

const file = data as unknown as ServicesFile;

const SERVICES: ReadonlyMap<string, ServiceModel> = new Map(
  Object.entries(file.services).map(([signingName, e]) => [
    signingName,
    {
      signingName,
      protocols: e.protocols as Protocol[],
      targetPrefix: e.targetPrefix ?? null,
      jsonVersion: e.jsonVersion ?? null,
      apiVersion: e.apiVersion,
      endpointPrefix: e.endpointPrefix,
      global: e.global,
      operations: new Set(e.operations),
      actionMember: new Set(e.actionMember ?? []),
    },
  ]),
);

const PARTITIONS: readonly Partition[] = file.partitions.map((p) => ({
  id: p.id,
  regionRegex: new RegExp(p.regionRegex),
  dnsSuffix: p.dnsSuffix,
}));
const AWS_PARTITION = PARTITIONS.find((p) => p.id === 'aws')!;

/** The served service with this signing name, or `undefined`. */
export function serviceModel(signingName: string): ServiceModel | undefined {
  return SERVICES.get(signingName);
}

/** The partition a region belongs to; `aws` when no other partition claims it. */
export function partitionOf(region: string): Partition {
  return PARTITIONS.find((p) => p.id !== 'aws' && p.regionRegex.test(region)) ?? AWS_PARTITION;
}

/** `[host, signing region]` of a non-regionalised service in a partition, if it has one. */
export function globalEndpoint(service: string, partition: string): readonly [string, string] | undefined {
  return file.globalEndpoints[service]?.[partition];
}
