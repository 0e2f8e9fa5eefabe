/** The sections of SPEC §10, from the top-level mapping down; aws and kube are in target-sections.ts. */
import { resolve } from 'node:path';
import { DEFAULTS } from './defaults.js';
import {
  bool,
  describe,
  entries,
  httpsOrLoopback,
  isLoopbackHost,
  isMapping,
  list,
  listenAddr,
  oneOf,
  optPath,
  optStr,
  pathField,
  posInt,
  report,
  section,
  str,
  strList,
  url,
  type Ctx,
  type Field,
} from './fields.js';
import { buildAws, buildKube } from './target-sections.js';
import type { AuthoritySource, Config, Executor, RecordSinkConfig } from './types.js';

/** The STS RoleArn shape; the account is what derived ARNs use (SPEC §2.1). */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
/** STS ExternalId: 2–1224 characters of this set (AssumeRole API reference). */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
/** The broker id goes into every RoleSessionName (SPEC §5), so it must fit STS's character set. */
const BROKER_ID = /^[\w+=,.@-]{1,32}$/;

export function buildConfig(c: Ctx, root: Field): Config {
  const top = section(c, root, [
    'broker', 'listen', 'trust', 'authority', 'reads', 'read_executor',
    'executors', 'aws', 'kube', 'records', 'replay', 'limits',
  ]);

  const b = section(c, top.broker, ['id', 'audience', 'principals', 'signing_key']);
  const id = str(c, b.id, { def: DEFAULTS.broker.id });
  if (id !== '' && !BROKER_ID.test(id)) report(c, b.id, `must be 1-32 characters of [A-Za-z0-9_+=,.@-] (it goes into STS session names), got ${describe(id)}`);
  let principals: string[] | null = null;
  if (b.principals.value !== undefined && b.principals.value !== null) {
    principals = strList(c, b.principals);
    if (Array.isArray(b.principals.value) && principals.length === 0) report(c, b.principals, 'must not be empty (leave it out to accept any sub)');
  }
  const broker = { id, audience: str(c, b.audience), principals, signing_key: optPath(c, b.signing_key) };

  const l = section(c, top.listen, ['aws', 'kube', 'admin']);
  const listen = {
    aws: listenAddr(c, l.aws, DEFAULTS.listen.aws),
    kube: listenAddr(c, l.kube, DEFAULTS.listen.kube),
    admin: listenAddr(c, l.admin, DEFAULTS.listen.admin),
  };

  const trust = buildTrust(c, top.trust);
  const executors = buildExecutors(c, top.executors);
  const aws = top.aws.value === undefined ? null : buildAws(c, top.aws);
  const kube = top.kube.value === undefined ? null : buildKube(c, top.kube);
  if (top.aws.value === undefined && top.kube.value === undefined && !root.quiet && isMapping(root.value)) {
    report(c, root, 'at least one of aws, kube is required (an absent section is not served)');
  }
  const authority = buildAuthority(c, top.authority, trust.issuers.map((i) => i.iss), kube !== null);

  const reads = oneOf(c, top.reads, ['allow', 'certify', 'deny'] as const, DEFAULTS.reads);
  let read_executor: string | null = null;
  if (top.read_executor.value === undefined || top.read_executor.value === null) {
    if (reads !== 'deny' && !top.read_executor.quiet) report(c, top.read_executor, `required when reads is ${reads}`);
  } else {
    read_executor = str(c, top.read_executor);
    const ex = read_executor === '' ? undefined : executors[read_executor];
    if (read_executor !== '' && ex === undefined && !top.executors.quiet) {
      report(c, top.read_executor, `names no executor, got ${describe(read_executor)}`);
    } else if (ex !== undefined) {
      // Reads of a served target go out under this executor (SPEC §5); without a profile for
      // that target every read would fail at run time instead of at start-up.
      if (aws !== null && ex.aws === undefined) report(c, top.read_executor, `executor ${describe(read_executor)} has no aws profile, but the aws target is served`);
      if (kube !== null && ex.k8s === undefined) report(c, top.read_executor, `executor ${describe(read_executor)} has no k8s profile, but the kube target is served`);
    }
  }

  return {
    broker,
    listen,
    trust,
    authority,
    reads,
    read_executor,
    executors,
    aws,
    kube,
    records: buildRecords(c, top.records),
    replay: buildReplay(c, top.replay),
    limits: buildLimits(c, top.limits),
  };
}

function buildTrust(c: Ctx, f: Field): Config['trust'] {
  const t = section(c, f, ['issuers', 'max_validity', 'clock_skew']);
  const issuers: { iss: string; jwks: string }[] = [];
  if (t.issuers.value === undefined && !t.issuers.quiet) report(c, t.issuers, 'required');
  const items = list(c, t.issuers);
  if (Array.isArray(t.issuers.value) && items.length === 0) report(c, t.issuers, 'must not be empty');
  const seen = new Set<string>();
  for (const item of items) {
    const i = section(c, item, ['iss', 'jwks']);
    const iss = str(c, i.iss);
    if (iss !== '' && seen.has(iss)) report(c, i.iss, `duplicate issuer ${describe(iss)}`);
    seen.add(iss);
    issuers.push({ iss, jwks: jwksSource(c, i.jwks) });
  }
  return {
    issuers,
    max_validity: posInt(c, t.max_validity, DEFAULTS.trust.max_validity),
    clock_skew: posInt(c, t.clock_skew, DEFAULTS.trust.clock_skew),
  };
}

/**
 * A JWKS is a local file or an https URL: a plain-http key source would let anyone on path mint.
 * http to a loopback host has no path to be on (a local issuer, tests), as for `authority.url`.
 */
function jwksSource(c: Ctx, f: Field): string {
  const v = str(c, f);
  if (v === '') return '';
  if (/^http:\/\//i.test(v) && URL.canParse(v) && isLoopbackHost(new URL(v).hostname)) return new URL(v).href;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return url(c, f, ['https'])?.href ?? '';
  return resolve(c.baseDir, v);
}

function buildAuthority(c: Ctx, f: Field, trusted: readonly string[], kubeServed: boolean): Config['authority'] {
  const a = section(c, f, ['iss', 'file', 'url', 'configmap', 'max_age_cap']);
  const iss = str(c, a.iss);
  if (iss !== '' && trusted.length > 0 && !trusted.includes(iss)) {
    report(c, a.iss, `must be one of trust.issuers, got ${describe(iss)}`);
  }
  const given = (['file', 'url', 'configmap'] as const).filter((k) => a[k].value !== undefined);
  let source: AuthoritySource = { file: '' };
  if (!f.quiet && given.length !== 1) {
    report(c, f, given.length === 0
      ? 'exactly one of file, url, configmap is required'
      : `exactly one of file, url, configmap is allowed, got ${given.join(' and ')}`);
  } else if (given[0] === 'file') {
    source = { file: pathField(c, a.file) };
  } else if (given[0] === 'url') {
    source = { url: httpsOrLoopback(c, a.url) };
  } else if (given[0] === 'configmap') {
    const m = section(c, a.configmap, ['namespace', 'name', 'key']);
    source = { configmap: { namespace: str(c, m.namespace), name: str(c, m.name), key: str(c, m.key) } };
    // The ConfigMap is watched through the kube connection; without one it could never be read.
    if (!kubeServed) report(c, a.configmap, 'needs the kube section');
  }
  return { iss, source, max_age_cap: posInt(c, a.max_age_cap, DEFAULTS.authority.max_age_cap) };
}

function buildExecutors(c: Ctx, f: Field): Record<string, Executor> {
  // Null prototype: certificates name executors, and `constructor` must not find Object's.
  const out = Object.create(null) as Record<string, Executor>;
  if (f.value === undefined && !f.quiet) report(c, f, 'required');
  const all = entries(c, f);
  if (isMapping(f.value) && all.length === 0) report(c, f, 'must not be empty');
  for (const { key: name, field: item } of all) {
    if (name === '') report(c, item, 'executor names must not be empty');
    const e = section(c, item, ['aws', 'k8s']);
    if (!item.quiet && isMapping(item.value) && e.aws.value === undefined && e.k8s.value === undefined) {
      report(c, item, 'needs aws or k8s');
    }
    const ex: { aws?: Executor['aws']; k8s?: Executor['k8s'] } = {};
    if (e.aws.value !== undefined) {
      const a = section(c, e.aws, ['role_arn', 'external_id']);
      const role_arn = str(c, a.role_arn);
      if (role_arn !== '' && !ROLE_ARN.test(role_arn)) report(c, a.role_arn, `must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got ${describe(role_arn)}`);
      const external_id = optStr(c, a.external_id);
      if (external_id !== null && external_id !== '' && !EXTERNAL_ID.test(external_id)) {
        report(c, a.external_id, 'must be 2-1224 characters of [A-Za-z0-9_+=,.@:/-]');
      }
      ex.aws = external_id === null ? { role_arn } : { role_arn, external_id };
    }
    if (e.k8s.value !== undefined) {
      const k = section(c, e.k8s, ['user', 'groups']);
      ex.k8s = { user: str(c, k.user), groups: strList(c, k.groups) };
    }
    out[name] = ex;
  }
  return out;
}

function buildRecords(c: Ctx, f: Field): Config['records'] {
  const r = section(c, f, ['sink', 'state_file', 'sign']);
  let sink: RecordSinkConfig = DEFAULTS.records.sink;
  const v = r.sink.value;
  if (isMapping(v)) {
    const s = section(c, r.sink, ['file', 'fluent']);
    const given = (['file', 'fluent'] as const).filter((k) => s[k].value !== undefined);
    if (given.length !== 1) {
      report(c, r.sink, `must be "stdout", {file: PATH} or {fluent: {host, port, tag}}, got ${given.length === 0 ? 'neither' : 'both'}`);
    } else if (given[0] === 'file') {
      sink = { file: pathField(c, s.file) };
    } else {
      const fl = section(c, s.fluent, ['host', 'port', 'tag']);
      const port = posInt(c, fl.port);
      if (port > 65535) report(c, fl.port, `must be a port 1-65535, got ${port}`);
      sink = { fluent: { host: str(c, fl.host), port, tag: str(c, fl.tag) } };
    }
  } else if (v !== undefined && v !== 'stdout') {
    report(c, r.sink, `must be "stdout", {file: PATH} or {fluent: {host, port, tag}}, got ${describe(v)}`);
  }
  return {
    sink,
    state_file: optPath(c, r.state_file),
    sign: oneOf(c, r.sign, ['every', 'checkpoint'] as const, DEFAULTS.records.sign),
  };
}

function buildReplay(c: Ctx, f: Field): Config['replay'] {
  const r = section(c, f, ['store']);
  const v = r.store.value;
  if (isMapping(v)) {
    const s = section(c, r.store, ['redis']);
    const rd = section(c, s.redis, ['url', 'password_file', 'check_persistence']);
    const u = url(c, rd.url, ['redis', 'rediss']);
    // The password lives in password_file so that the config file holds no secret to leak.
    if (u !== null && u.password !== '') report(c, rd.url, 'must not hold a password (use password_file)');
    return {
      store: {
        redis: { url: u?.href ?? '', password_file: optPath(c, rd.password_file), check_persistence: bool(c, rd.check_persistence, DEFAULTS.replay.redis.check_persistence) },
      },
    };
  }
  if (v !== undefined && v !== 'memory') {
    report(c, r.store, `must be "memory" or {redis: {url, password_file}}, got ${describe(v)}`);
  }
  return { store: DEFAULTS.replay.store };
}

function buildLimits(c: Ctx, f: Field): Config['limits'] {
  const l = section(c, f, [
    'max_body_bytes', 'request_timeout', 'max_stream',
    'concurrent_certified', 'concurrent_certified_streams', 'concurrent_reads', 'concurrent_read_streams', 'min_read_rate',
  ]);
  return {
    max_body_bytes: posInt(c, l.max_body_bytes, DEFAULTS.limits.max_body_bytes),
    request_timeout: posInt(c, l.request_timeout, DEFAULTS.limits.request_timeout),
    max_stream: posInt(c, l.max_stream, DEFAULTS.limits.max_stream),
    concurrent_certified: posInt(c, l.concurrent_certified, DEFAULTS.limits.concurrent_certified),
    concurrent_certified_streams: posInt(c, l.concurrent_certified_streams, DEFAULTS.limits.concurrent_certified_streams),
    concurrent_reads: posInt(c, l.concurrent_reads, DEFAULTS.limits.concurrent_reads),
    concurrent_read_streams: posInt(c, l.concurrent_read_streams, DEFAULTS.limits.concurrent_read_streams),
    min_read_rate: posInt(c, l.min_read_rate, DEFAULTS.limits.min_read_rate),
  };
}
