/**
 * Where a request goes upstream: from the broker's own table (SPEC §2.1, reference/aws.md §4.5),
 * never from a host the client names. Configured overrides (VPC endpoints, tests) win.
 */
import { globalEndpoint, partitionOf, serviceModel } from './services.js';
import type { Endpoint } from '../../identity/types.js';
import type { Upstream } from './types.js';

const DEFAULT_SIGNING_REGION = 'us-east-1';
/** Where the broker's own AssumeRole calls go when no region is given (the AWS SDKs' default too). */
export const DEFAULT_STS_REGION = 'us-east-1';

// Hot path: one resolution per (service, region, overrides) instead of per request. Keyed by the
// overrides object too, so a reloaded config never sees a stale entry.
const cache = new WeakMap<object, Map<string, Endpoint>>();

/**
 * The origin and signing parameters for `service` (a signing name) in `region` (`null` for a
 * global service: the `aws` partition's global endpoint). A region passed for a global service
 * picks its partition (IAM in GovCloud or China). `upstream` names another model's host and the
 * operation's host prefix (types.ts Upstream); an override for that model wins over one for the
 * signing name, and an override is used as it is, without the host prefix (it names the host).
 */
export function resolveEndpoint(
  service: string,
  region: string | null,
  overrides: Readonly<Record<string, string>>,
  upstream?: Upstream,
): Endpoint {
  let byKey = cache.get(overrides);
  if (byKey === undefined) cache.set(overrides, (byKey = new Map()));
  const key = upstream === undefined ? `${service} ${region ?? ''}` : `${service} ${region ?? ''} ${upstream.model} ${upstream.hostPrefix}`;
  let endpoint = byKey.get(key);
  if (endpoint === undefined) {
    endpoint = compute(service, region, overrides, upstream);
    byKey.set(key, endpoint);
  }
  return endpoint;
}

function compute(service: string, region: string | null, overrides: Readonly<Record<string, string>>, upstream?: Upstream): Endpoint {
  const override = (upstream && overrides[upstream.model]) ?? overrides[service] ?? overrides['default'];
  if (override !== undefined) {
    return { origin: override, signingRegion: region ?? DEFAULT_SIGNING_REGION, signingService: service };
  }
  const partition = partitionOf(region ?? DEFAULT_SIGNING_REGION);
  // Every model beside a signing name's own is regional (the generator checks it).
  const global = upstream === undefined ? globalEndpoint(service, partition.id) : undefined;
  if (global !== undefined) {
    return { origin: `https://${global[0]}`, signingRegion: global[1], signingService: service };
  }
  if (region === null) throw new TypeError(`${service} has no global endpoint`);
  // S3 is addressed path-style at its regional host (the bucket stays in the path as signed).
  const prefix = upstream?.endpointPrefix ?? serviceModel(service)?.endpointPrefix ?? service;
  const host = `${upstream?.hostPrefix ?? ''}${prefix}.${region}.${partition.dnsSuffix}`;
  return { origin: `https://${host}`, signingRegion: region, signingService: service };
}
