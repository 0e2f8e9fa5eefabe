/**
 * Where a request goes upstream: from the broker's own table (SPEC §2.1, reference/aws.md §4.5),
 * never from a host the client names. Configured overrides (VPC endpoints, tests) win.
 */
import { globalEndpoint, partitionOf, serviceModel } from './services.js';
import type { Endpoint } from './types.js';

const DEFAULT_SIGNING_REGION = 'us-east-1';

// Hot path: one resolution per (service, region, overrides) instead of per request. Keyed by the
// overrides object too, so a reloaded config never sees a stale entry.
const cache = new WeakMap<object, Map<string, Endpoint>>();

/**
 * The origin and signing parameters for `service` (a signing name) in `region` (`null` for a
 * global service: the `aws` partition's global endpoint). A region passed for a global service
 * picks its partition (IAM in GovCloud or China).
 */
export function resolveEndpoint(
  service: string,
  region: string | null,
  overrides: Readonly<Record<string, string>>,
): Endpoint {
  let byKey = cache.get(overrides);
  if (byKey === undefined) cache.set(overrides, (byKey = new Map()));
  const key = `${service} ${region ?? ''}`;
  let endpoint = byKey.get(key);
  if (endpoint === undefined) {
    endpoint = compute(service, region, overrides);
    byKey.set(key, endpoint);
  }
  return endpoint;
}

function compute(service: string, region: string | null, overrides: Readonly<Record<string, string>>): Endpoint {
  const override = overrides[service] ?? overrides['default'];
  if (override !== undefined) {
    return { origin: override, signingRegion: region ?? DEFAULT_SIGNING_REGION, signingService: service };
  }
  const partition = partitionOf(region ?? DEFAULT_SIGNING_REGION);
  const global = globalEndpoint(service, partition.id);
  if (global !== undefined) {
    return { origin: `https://${global[0]}`, signingRegion: global[1], signingService: service };
  }
  if (region === null) throw new TypeError(`${service} has no global endpoint`);
  // S3 is addressed path-style at its regional host (the bucket stays in the path as signed).
  const prefix = serviceModel(service)?.endpointPrefix ?? service;
  return { origin: `https://${prefix}.${region}.${partition.dnsSuffix}`, signingRegion: region, signingService: service };
}
