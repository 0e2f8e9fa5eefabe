/** The sections of SPEC §10 for the two targets, aws and kube; each is served only when present. */
import { DEFAULTS } from './defaults.js';
import {
  bool,
  describe,
  entries,
  httpsOrLoopback,
  isLoopbackHost,
  isMapping,
  oneOf,
  pathField,
  report,
  section,
  str,
  strList,
  url,
  type Ctx,
  type Field,
} from './fields.js';
import type { AwsConfig, AwsCredentialsConfig, KubeConfig } from './types.js';

/** A service signing name (SPEC §2.1) or `default`. */
const ENDPOINT_NAME = /^[a-z0-9][a-z0-9-]*$/;

export function buildAws(c: Ctx, f: Field): AwsConfig {
  const a = section(c, f, ['credentials', 'endpoints', 'allow_insecure_endpoints', 'allow_credential_vending', 'mint']);
  let credentials: AwsCredentialsConfig = DEFAULTS.aws.credentials;
  if (isMapping(a.credentials.value)) {
    const k = section(c, a.credentials, ['access_key_id', 'secret_access_key']);
    credentials = { access_key_id: str(c, k.access_key_id), secret_access_key: str(c, k.secret_access_key, { secret: true }) };
  } else if (a.credentials.value !== undefined && a.credentials.value !== 'default') {
    report(c, a.credentials, `must be "default" or {access_key_id, secret_access_key}, got ${describe(a.credentials.value)}`);
  }
  const insecure = bool(c, a.allow_insecure_endpoints, DEFAULTS.aws.allow_insecure_endpoints);
  const endpoints = Object.create(null) as Record<string, string>;
  for (const { key: name, field: e } of entries(c, a.endpoints)) {
    if (!ENDPOINT_NAME.test(name)) report(c, e, 'must be keyed by a service signing name or default');
    const u = url(c, e, ['https', 'http']);
    if (u === null) continue;
    const raw = e.value as string;
    // A base URL only: a path, query or userinfo would change what the broker signs and sends.
    if (u.username !== '' || u.password !== '' || !/^https?:\/\/[^/?#@]+\/?$/i.test(raw)) {
      report(c, e, `must be scheme://host[:port] with no path, query or credentials, got ${describe(raw)}`);
      continue;
    }
    if (!insecure && (u.protocol === 'http:' || isLoopbackHost(u.hostname))) {
      report(c, e, `http:// or loopback endpoints need aws.allow_insecure_endpoints: true, got ${describe(raw)}`);
      continue;
    }
    endpoints[name] = u.origin;
  }
  return {
    credentials,
    endpoints,
    allow_insecure_endpoints: insecure,
    allow_credential_vending: strList(c, a.allow_credential_vending),
    mint: oneOf(c, a.mint, ['per_scope', 'per_certificate'] as const, DEFAULTS.aws.mint),
  };
}

export function buildKube(c: Ctx, f: Field): KubeConfig {
  const k = section(c, f, ['in_cluster', 'server', 'kubeconfig', 'tls', 'client_dir']);
  const in_cluster = bool(c, k.in_cluster, false);
  const given = [
    ...(in_cluster ? ['in_cluster'] : []),
    ...(k.server.value !== undefined ? ['server'] : []),
    ...(k.kubeconfig.value !== undefined ? ['kubeconfig'] : []),
  ];
  if (given.length > 1) report(c, f, `exactly one of in_cluster: true, server, kubeconfig is allowed, got ${given.join(' and ')}`);
  // None given: in-cluster is the default (SPEC §10); `in_cluster: false` alone names no cluster.
  const defaulted = given.length === 0 && k.in_cluster.value === undefined;
  if (given.length === 0 && !defaulted && !k.in_cluster.quiet) report(c, f, 'exactly one of in_cluster: true, server, kubeconfig is required');
  let tls: KubeConfig['tls'] = null;
  if (k.tls.value !== undefined && k.tls.value !== null) {
    const t = section(c, k.tls, ['cert', 'key']);
    tls = { cert: pathField(c, t.cert), key: pathField(c, t.key) };
  }
  return {
    in_cluster: in_cluster || defaulted,
    server: k.server.value === undefined ? null : httpsOrLoopback(c, k.server),
    kubeconfig: k.kubeconfig.value === undefined ? null : pathField(c, k.kubeconfig),
    tls,
    client_dir: pathField(c, k.client_dir, DEFAULTS.kube.client_dir),
  };
}
