/**
 * Loads the configuration file (SPEC §10): strict YAML, validated in full, defaults applied, paths
 * resolved, deeply frozen, once before any listener starts. Every problem is reported as one line
 * naming the field path; unknown keys are errors at every level; types are never coerced. The only
 * I/O is reading the config file itself (loadConfigFile); parseConfig is pure.
 */
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { UsageError } from '../cli/command.js';
import type {
  AuthoritySource,
  AwsConfig,
  AwsCredentialsConfig,
  Config,
  Executor,
  KubeConfig,
  RecordSinkConfig,
} from './types.js';

/** A bad configuration: the CLI prints one line per problem and exits 2 (SPEC §9). */
export class ConfigError extends UsageError {}

/** Every default of SPEC §10, in one place. Fields not listed here have no default. */
export const DEFAULTS = deepFreeze({
  broker: { id: 'seb' },
  listen: { aws: '127.0.0.1:15001', kube: '127.0.0.1:15002', admin: '127.0.0.1:15090' },
  trust: { max_validity: 900, clock_skew: 30 },
  authority: { max_age_cap: 300 },
  reads: 'allow',
  aws: { credentials: 'default', allow_insecure_endpoints: false, mint: 'per_scope' },
  kube: { client_dir: '/var/run/seb' },
  records: { sink: 'stdout', sign: 'every' },
  replay: { store: 'memory' },
  limits: { max_body_bytes: 10485760, request_timeout: 30, max_stream: 3600 },
} as const);

/** The STS RoleArn shape; the account is what derived ARNs use (SPEC §2.1). */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
/** STS ExternalId: 2–1224 characters of this set (AssumeRole API reference). */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
/** The broker id goes into every RoleSessionName (SPEC §5), so it must fit STS's character set. */
const BROKER_ID = /^[\w+=,.@-]{1,32}$/;
/** A service signing name (SPEC §2.1) or `default`. */
const ENDPOINT_NAME = /^[a-z0-9][a-z0-9-]*$/;
const LISTEN = /^(?:\[([^\]]+)\]|([^:[\]]+)):(0|[1-9]\d{0,4})$/;

/** A YAML value after strict reading; mappings have a null prototype (`__proto__` is a plain key). */
type Value = string | number | boolean | null | Value[] | Mapping;
interface Mapping {
  [key: string]: Value;
}

/**
 * One field as the validators see it. `quiet`: the parent was already reported as the wrong type,
 * so its children stay silent instead of each adding a `required` line.
 */
interface Field {
  readonly path: string;
  readonly value: Value | undefined;
  readonly quiet: boolean;
}

interface Ctx {
  readonly problems: string[];
  readonly baseDir: string;
}

/** Parses and validates a config text; relative paths resolve against `baseDir`. */
export function parseConfig(text: string, baseDir: string): Config {
  const problems: string[] = [];
  const root = readYaml(text, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const config = buildConfig({ problems, baseDir }, { path: '', value: root, quiet: false });
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** Reads and parses a config file; every problem line is prefixed with the file's path (SPEC §9). */
export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  try {
    return parseConfig(text, dirname(resolve(path)));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.problems.map((p) => `${path}: ${p}`));
    throw err;
  }
}

/** `seb run` needs a persistent record-signing key (SPEC §8); only `seb dev` makes one. */
export function requireSigningKey(config: Config): string {
  if (config.broker.signing_key === null) throw new ConfigError(['broker.signing_key: required by seb run']);
  return config.broker.signing_key;
}

// ---------------------------------------------------------------------------------------------
// Strict YAML: one document, YAML 1.2 core schema (`yes` is a string), unique keys, no tags, no
// merge keys, string keys only. Anything else is a problem, never a guess.

function readYaml(text: string, problems: string[]): Value | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    schema: 'core',
    version: '1.2',
    uniqueKeys: true,
    merge: false,
    strict: true,
    prettyErrors: false,
    lineCounter: lines,
  });
  const at = (offset: number): string => {
    const { line, col } = lines.linePos(offset);
    return `line ${line}, column ${col}`;
  };
  for (const e of [...doc.errors, ...doc.warnings]) problems.push(`${at(e.pos[0])}: ${e.message}`);
  // The core schema ignores a `%YAML 1.1` directive; refuse it rather than read 1.1 text as 1.2.
  if (doc.directives.yaml.explicit && doc.directives.yaml.version !== '1.2') {
    problems.push('line 1, column 1: only YAML 1.2 is accepted');
  }
  if (problems.length > 0) return undefined;
  return toValue(doc.contents, { doc, problems, at, stack: new Set(), aliases: 0 });
}

/** Expanding aliases copies their target, so a few lines could otherwise expand exponentially. */
const MAX_ALIASES = 100;

interface YamlWalk {
  readonly doc: Document;
  readonly problems: string[];
  readonly at: (offset: number) => string;
  /** Nodes being converted, so an alias to its own ancestor is refused instead of looping. */
  readonly stack: Set<unknown>;
  aliases: number;
}

function toValue(node: unknown, w: YamlWalk): Value {
  if (node === null || node === undefined) return null;
  const where = w.at((node as { range?: [number] }).range?.[0] ?? 0);
  if (w.stack.has(node)) {
    w.problems.push(`${where}: alias refers to its own ancestor`);
    return null;
  }
  if (isAlias(node)) {
    if (++w.aliases > MAX_ALIASES) {
      if (w.aliases === MAX_ALIASES + 1) w.problems.push(`${where}: more than ${MAX_ALIASES} aliases`);
      return null;
    }
    w.stack.add(node);
    const value = toValue(node.resolve(w.doc), w);
    w.stack.delete(node);
    return value;
  }
  if ((node as { tag?: string }).tag !== undefined) {
    w.problems.push(`${where}: YAML tags are not allowed`);
    return null;
  }
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    w.problems.push(`${where}: unsupported scalar`);
    return null;
  }
  w.stack.add(node);
  let out: Value = null;
  if (isSeq(node)) {
    out = node.items.map((item) => toValue(item, w));
  } else if (isMap(node)) {
    const map: Mapping = Object.create(null) as Mapping;
    for (const pair of node.items) {
      const key = isScalar(pair.key) && pair.key.tag === undefined ? pair.key.value : undefined;
      if (typeof key !== 'string') {
        w.problems.push(`${w.at((pair.key as { range?: [number] } | null)?.range?.[0] ?? 0)}: mapping keys must be strings`);
        continue;
      }
      map[key] = toValue(pair.value, w);
    }
    out = map;
  } else {
    w.problems.push(`${where}: unsupported YAML node`);
  }
  w.stack.delete(node);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Field readers. Each reports at most one problem for its field and returns a placeholder when it
// does; the placeholders never escape, because any problem makes parseConfig throw.

function isMapping(v: Value | undefined): v is Mapping {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: Value): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'a list' : 'a mapping';
}

function report(c: Ctx, f: Field, message: string): void {
  c.problems.push(`${f.path === '' ? '(top level)' : f.path}: ${message}`);
}

function childPath(parent: string, key: string): string {
  const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (parent === '') return part;
  return part.startsWith('[') ? `${parent}${part}` : `${parent}.${part}`;
}

/**
 * A mapping with a fixed key set. Absent: its fields read as absent (defaults apply, required
 * fields are reported). Unknown keys are reported, each on its own line.
 */
function section<K extends string>(c: Ctx, f: Field, keys: readonly K[]): Record<K, Field> {
  let quiet = f.quiet;
  let m: Mapping | undefined;
  if (!quiet && f.value !== undefined) {
    if (isMapping(f.value)) m = f.value;
    else {
      report(c, f, `must be a mapping, got ${describe(f.value)}`);
      quiet = true;
    }
  }
  if (m !== undefined) {
    for (const key of Object.keys(m)) {
      if (!(keys as readonly string[]).includes(key)) report(c, { ...f, path: childPath(f.path, key) }, 'unknown key');
    }
  }
  const out = {} as Record<K, Field>;
  for (const key of keys) out[key] = { path: childPath(f.path, key), value: m?.[key], quiet };
  return out;
}

/** A mapping from names the operator chooses (executors, endpoints) to values. */
function entries(c: Ctx, f: Field): { key: string; field: Field }[] {
  if (f.quiet || f.value === undefined) return [];
  if (!isMapping(f.value)) {
    report(c, f, `must be a mapping, got ${describe(f.value)}`);
    return [];
  }
  const m = f.value;
  return Object.keys(m).map((key) => ({ key, field: { path: childPath(f.path, key), value: m[key], quiet: false } }));
}

function list(c: Ctx, f: Field): Field[] {
  if (f.quiet || f.value === undefined) return [];
  if (!Array.isArray(f.value)) {
    report(c, f, `must be a list, got ${describe(f.value)}`);
    return [];
  }
  return f.value.map((value, i) => ({ path: `${f.path}[${i}]`, value, quiet: false }));
}

interface StrOpts {
  /** Returned when the field is absent; without it the field is required. */
  readonly def?: string;
  readonly secret?: boolean;
}

function str(c: Ctx, f: Field, opts: StrOpts = {}): string {
  if (f.quiet) return '';
  if (f.value === undefined) {
    if (opts.def !== undefined) return opts.def;
    report(c, f, 'required');
    return '';
  }
  if (typeof f.value !== 'string') {
    report(c, f, `must be a string, got ${opts.secret ? (Array.isArray(f.value) ? 'a list' : typeof f.value) : describe(f.value)}`);
    return '';
  }
  if (f.value === '') {
    report(c, f, 'must not be empty');
    return '';
  }
  return f.value;
}

/** A string field whose absence (or explicit null) means null. */
function optStr(c: Ctx, f: Field): string | null {
  return f.value === undefined || f.value === null ? null : str(c, f);
}

function pathField(c: Ctx, f: Field, def?: string): string {
  const v = str(c, f, def === undefined ? {} : { def });
  return v === '' ? '' : resolve(c.baseDir, v);
}

function optPath(c: Ctx, f: Field): string | null {
  const v = optStr(c, f);
  return v === null || v === '' ? v : resolve(c.baseDir, v);
}

/** A positive integer; without `def` the field is required. */
function posInt(c: Ctx, f: Field, def?: number): number {
  if (f.quiet) return def ?? 1;
  if (f.value === undefined) {
    if (def === undefined) report(c, f, 'required');
    return def ?? 1;
  }
  if (typeof f.value !== 'number' || !Number.isSafeInteger(f.value) || f.value <= 0) {
    report(c, f, `must be a positive integer, got ${describe(f.value)}`);
    return def ?? 1;
  }
  return f.value;
}

function bool(c: Ctx, f: Field, def: boolean): boolean {
  if (f.quiet || f.value === undefined) return def;
  if (typeof f.value !== 'boolean') {
    report(c, f, `must be true or false, got ${describe(f.value)}`);
    return def;
  }
  return f.value;
}

function oneOf<T extends string>(c: Ctx, f: Field, choices: readonly T[], def: T): T {
  if (f.quiet || f.value === undefined) return def;
  if (typeof f.value !== 'string' || !(choices as readonly string[]).includes(f.value)) {
    report(c, f, `must be one of ${choices.join(', ')}, got ${describe(f.value)}`);
    return def;
  }
  return f.value as T;
}

function strList(c: Ctx, f: Field): string[] {
  return list(c, f).map((item) => str(c, item));
}

/** `host:port` with an IPv4, `[IPv6]` or `localhost` host (SPEC §1). */
function listenAddr(c: Ctx, f: Field, def: string): string {
  const v = str(c, f, { def });
  if (v === '') return def;
  const m = LISTEN.exec(v);
  const host = m?.[1] ?? m?.[2];
  const ok =
    m !== null &&
    Number(m[3]) <= 65535 &&
    (m[1] !== undefined ? isIPv6(m[1]) : host === 'localhost' || isIPv4(host ?? ''));
  if (!ok) report(c, f, `must be host:port with an IPv4, [IPv6] or localhost host and a port 0-65535, got ${describe(v)}`);
  return v;
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h === '[::1]' || (isIPv4(h) && h.startsWith('127.'));
}

/** Parses a URL, or reports it; `schemes` lists the accepted protocols without the colon. */
function url(c: Ctx, f: Field, schemes: readonly string[]): URL | null {
  const v = str(c, f);
  if (v === '') return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    report(c, f, `must be a URL, got ${describe(v)}`);
    return null;
  }
  const scheme = u.protocol.slice(0, -1);
  if (!schemes.includes(scheme)) {
    report(c, f, `must be a ${schemes.map((s) => `${s}://`).join(' or ')} URL, got ${describe(v)}`);
    return null;
  }
  return u;
}

/** An https URL, or http to a loopback host (local issuers, tests). */
function httpsOrLoopback(c: Ctx, f: Field): string {
  const u = url(c, f, ['https', 'http']);
  if (u === null) return '';
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    report(c, f, `must be https:// (http:// only to a loopback host), got ${describe(u.href)}`);
  }
  return u.href;
}

// ---------------------------------------------------------------------------------------------
// The sections of SPEC §10.

function buildConfig(c: Ctx, root: Field): Config {
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

/** A JWKS is a local file or an https URL: a plain-http key source would let anyone on path mint. */
function jwksSource(c: Ctx, f: Field): string {
  const v = str(c, f);
  if (v === '') return '';
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

function buildAws(c: Ctx, f: Field): AwsConfig {
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

function buildKube(c: Ctx, f: Field): KubeConfig {
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
    const rd = section(c, s.redis, ['url', 'password_file']);
    const u = url(c, rd.url, ['redis', 'rediss']);
    // The password lives in password_file so that the config file holds no secret to leak.
    if (u !== null && u.password !== '') report(c, rd.url, 'must not hold a password (use password_file)');
    return { store: { redis: { url: u?.href ?? '', password_file: optPath(c, rd.password_file) } } };
  }
  if (v !== undefined && v !== 'memory') {
    report(c, r.store, `must be "memory" or {redis: {url, password_file}}, got ${describe(v)}`);
  }
  return { store: DEFAULTS.replay.store };
}

function buildLimits(c: Ctx, f: Field): Config['limits'] {
  const l = section(c, f, ['max_body_bytes', 'request_timeout', 'max_stream']);
  return {
    max_body_bytes: posInt(c, l.max_body_bytes, DEFAULTS.limits.max_body_bytes),
    request_timeout: posInt(c, l.request_timeout, DEFAULTS.limits.request_timeout),
    max_stream: posInt(c, l.max_stream, DEFAULTS.limits.max_stream),
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
