import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/cli/command.js';
import { ConfigError, DEFAULTS, loadConfigFile, parseConfig, requireSigningKey } from '../../src/config/load.js';

const BASE = '/etc/seb';

/** SPEC §10's example, every field given, with values that differ from the defaults where they can. */
const FULL = `
broker:
  id: seb-dev
  audience: seb:cluster-a:agents:pod-7
  principals: ["agent:deployer-7"]
  signing_key: keys/broker/private.jwk.json
listen:
  aws: 127.0.0.1:15101
  kube: "[::1]:15102"
  admin: localhost:0
trust:
  issuers:
    - iss: sab.example
      jwks: keys/sab/public.jwks.json
    - iss: sab2.example
      jwks: https://sab2.example/jwks.json
  max_validity: 600
  clock_skew: 10
authority:
  iss: sab.example
  file: authority.jws
  max_age_cap: 120
reads: certify
read_executor: reader
executors:
  s3-writer: { aws: { role_arn: "arn:aws:iam::123456789012:role/seb-exec-s3", external_id: "ext-1" } }
  deployer:  { k8s: { user: "seb:executor:deployer", groups: ["seb:executors"] } }
  reader:    { aws: { role_arn: "arn:aws:iam::123456789012:role/seb-reader" }, k8s: { user: "seb:reader" } }
aws:
  credentials: { access_key_id: AKIAEXAMPLE, secret_access_key: secret }
  endpoints: { s3: "http://127.0.0.1:5000/", default: "https://vpce.example:8443" }
  allow_insecure_endpoints: true
  allow_credential_vending: [GetSessionToken]
  mint: per_certificate
kube:
  kubeconfig: kube/config
  tls: { cert: tls/cert.pem, key: tls/key.pem }
  client_dir: client
records:
  sink: { fluent: { host: 127.0.0.1, port: 24224, tag: seb } }
  state_file: state.json
  sign: checkpoint
replay:
  store: { redis: { url: "rediss://redis.example:6380/0", password_file: redis.pass, check_persistence: false } }
limits:
  max_body_bytes: 1024
  request_timeout: 5
  max_stream: 60
`;

const MINIMAL = `
broker: { audience: aud-1 }
trust: { issuers: [{ iss: sab, jwks: sab.jwks }] }
authority: { iss: sab, file: a.jws }
read_executor: reader
executors:
  reader: { aws: { role_arn: "arn:aws:iam::123456789012:role/r" } }
aws: {}
`;

function problemsOf(text: string): readonly string[] {
  try {
    parseConfig(text, BASE);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

function isDeeplyFrozen(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  return Object.isFrozen(v) && Object.values(v).every(isDeeplyFrozen);
}

t.test('the full example parses, resolves paths and is deeply frozen', async (t) => {
  const c = parseConfig(FULL, BASE);
  t.same(c.broker, { id: 'seb-dev', audience: 'seb:cluster-a:agents:pod-7', principals: ['agent:deployer-7'], signing_key: '/etc/seb/keys/broker/private.jwk.json' });
  t.same(c.listen, { aws: '127.0.0.1:15101', kube: '[::1]:15102', admin: 'localhost:0' });
  t.same(c.trust, {
    issuers: [
      { iss: 'sab.example', jwks: '/etc/seb/keys/sab/public.jwks.json' },
      { iss: 'sab2.example', jwks: 'https://sab2.example/jwks.json' },
    ],
    max_validity: 600,
    clock_skew: 10,
  });
  t.same(c.authority, { iss: 'sab.example', source: { file: '/etc/seb/authority.jws' }, max_age_cap: 120 });
  t.equal(c.reads, 'certify');
  t.equal(c.read_executor, 'reader');
  t.same(c.executors['s3-writer'], { aws: { role_arn: 'arn:aws:iam::123456789012:role/seb-exec-s3', external_id: 'ext-1' } });
  t.same(c.executors['deployer'], { k8s: { user: 'seb:executor:deployer', groups: ['seb:executors'] } });
  t.same(c.executors['reader']?.k8s, { user: 'seb:reader', groups: [] });
  t.same(c.aws, {
    credentials: { access_key_id: 'AKIAEXAMPLE', secret_access_key: 'secret' },
    endpoints: { s3: 'http://127.0.0.1:5000', default: 'https://vpce.example:8443' },
    allow_insecure_endpoints: true,
    allow_credential_vending: ['GetSessionToken'],
    mint: 'per_certificate',
  });
  t.same(c.kube, { in_cluster: false, server: null, kubeconfig: '/etc/seb/kube/config', tls: { cert: '/etc/seb/tls/cert.pem', key: '/etc/seb/tls/key.pem' }, client_dir: '/etc/seb/client' });
  t.same(c.records, { sink: { fluent: { host: '127.0.0.1', port: 24224, tag: 'seb' } }, state_file: '/etc/seb/state.json', sign: 'checkpoint' });
  t.same(c.replay, { store: { redis: { url: 'rediss://redis.example:6380/0', password_file: '/etc/seb/redis.pass', check_persistence: false } } });
  t.same(c.limits, { max_body_bytes: 1024, request_timeout: 5, max_stream: 60, concurrent_certified: 64, concurrent_certified_streams: 16, concurrent_reads: 64, concurrent_read_streams: 32, min_read_rate: 16384 });
  t.ok(isDeeplyFrozen(c), 'every object in the result is frozen');
  t.throws(() => {
    (c.limits as { max_body_bytes: number }).max_body_bytes = 1;
  }, TypeError);
});

t.test('a minimal config gets every default', async (t) => {
  const c = parseConfig(MINIMAL, BASE);
  t.same(c.broker, { id: DEFAULTS.broker.id, audience: 'aud-1', principals: null, signing_key: null });
  t.same(c.listen, DEFAULTS.listen);
  t.equal(c.trust.max_validity, 900);
  t.equal(c.trust.clock_skew, 30);
  t.equal(c.authority.max_age_cap, 300);
  t.equal(c.reads, 'allow');
  t.same(c.aws, { credentials: 'default', endpoints: {}, allow_insecure_endpoints: false, allow_credential_vending: [], mint: 'per_scope' });
  t.equal(c.kube, null);
  t.same(c.records, { sink: 'stdout', state_file: null, sign: 'every' });
  t.same(c.replay, { store: 'memory' });
  t.same(c.limits, { max_body_bytes: 10485760, request_timeout: 30, max_stream: 3600, concurrent_certified: 64, concurrent_certified_streams: 16, concurrent_reads: 64, concurrent_read_streams: 32, min_read_rate: 16384 });
  t.ok(isDeeplyFrozen(DEFAULTS), 'DEFAULTS cannot be changed by a caller');
  t.throws(() => requireSigningKey(c), { name: 'UsageError', problems: ['broker.signing_key: required by seb run'] });
  try {
    requireSigningKey(c);
  } catch (err) {
    t.ok(err instanceof ConfigError, 'requireSigningKey throws a ConfigError');
  }
  t.equal(requireSigningKey(parseConfig(FULL, BASE)), '/etc/seb/keys/broker/private.jwk.json');
});

t.test('an empty kube section means in-cluster', async (t) => {
  const c = parseConfig(`${MINIMAL.replace('aws: {}', 'kube: {}')}`.replace('{ aws: { role_arn: "arn:aws:iam::123456789012:role/r" } }', '{ k8s: { user: r } }'), BASE);
  t.same(c.kube, { in_cluster: true, server: null, kubeconfig: null, tls: null, client_dir: '/var/run/seb' });
  t.equal(c.aws, null);
});

t.test('YAML 1.2 core schema: yes is a string, not a boolean', async (t) => {
  t.same(problemsOf(MINIMAL.replace('aws: {}', 'aws: { allow_insecure_endpoints: yes }')), [
    'aws.allow_insecure_endpoints: must be true or false, got "yes"',
  ]);
});

t.test('executor names are looked up without Object.prototype', async (t) => {
  const c = parseConfig(MINIMAL, BASE);
  t.equal(c.executors['constructor'], undefined);
  t.equal(c.executors['toString'], undefined);
});

/** Replaces `from` in MINIMAL (which must occur) with `to`. */
function edit(from: string, to: string): string {
  if (!MINIMAL.includes(from)) throw new Error(`fixture has no ${from}`);
  return MINIMAL.replace(from, to);
}

const BAD: readonly (readonly [string, string, readonly string[]])[] = [
  ['unknown top-level key', `${MINIMAL}extra: 1\n`, ['extra: unknown key']],
  ['unknown key in a section', edit('aws: {}', 'aws: { endpontis: {} }'), ['aws.endpontis: unknown key']],
  ['unknown key in a list item', edit('jwks: sab.jwks', 'jwks: sab.jwks, kid: k'), ['trust.issuers[0].kid: unknown key']],
  ['unknown key in an executor', edit('role_arn: "arn:aws:iam::123456789012:role/r"', 'role_arn: "arn:aws:iam::123456789012:role/r", policy: x'), ['executors.reader.aws.policy: unknown key']],
  ['string for a number', `${MINIMAL}limits: { max_body_bytes: "10" }\n`, ['limits.max_body_bytes: must be a positive integer, got "10"']],
  ['zero for a positive integer', `${MINIMAL}limits: { max_stream: 0 }\n`, ['limits.max_stream: must be a positive integer, got 0']],
  ['fraction for an integer', `${MINIMAL}trust2: 1\n`.replace('trust2: 1\n', 'limits: { request_timeout: 1.5 }\n'), ['limits.request_timeout: must be a positive integer, got 1.5']],
  ['number for a string', edit('audience: aud-1', 'audience: 7'), ['broker.audience: must be a string, got 7']],
  ['missing audience', edit('broker: { audience: aud-1 }', 'broker: { id: x }'), ['broker.audience: required']],
  ['empty audience', edit('audience: aud-1', 'audience: ""'), ['broker.audience: must not be empty']],
  ['missing jwks', edit('{ iss: sab, jwks: sab.jwks }', '{ iss: sab }'), ['trust.issuers[0].jwks: required']],
  ['authority.iss not trusted', edit('authority: { iss: sab', 'authority: { iss: other'), ['authority.iss: must be one of trust.issuers, got "other"']],
  ['two authority sources', edit('file: a.jws', 'file: a.jws, url: "https://sab/state"'), ['authority: exactly one of file, url, configmap is allowed, got file and url']],
  ['no authority source', edit(', file: a.jws', ''), ['authority: exactly one of file, url, configmap is required']],
  ['plain-http authority url', edit('file: a.jws', 'url: "http://sab.example/state"'), ['authority.url: must be https:// (http:// only to a loopback host), got "http://sab.example/state"']],
  ['configmap without kube', edit('file: a.jws', 'configmap: { namespace: n, name: m, key: k }'), ['authority.configmap: needs the kube section']],
  ['http endpoint without allow_insecure_endpoints', edit('aws: {}', 'aws: { endpoints: { s3: "http://s3.internal:9000" } }'), ['aws.endpoints.s3: http:// or loopback endpoints need aws.allow_insecure_endpoints: true, got "http://s3.internal:9000"']],
  ['loopback https endpoint without allow_insecure_endpoints', edit('aws: {}', 'aws: { endpoints: { default: "https://127.0.0.1:5000" } }'), ['aws.endpoints.default: http:// or loopback endpoints need aws.allow_insecure_endpoints: true, got "https://127.0.0.1:5000"']],
  ['endpoint with a path', edit('aws: {}', 'aws: { endpoints: { s3: "https://s3.example/x" } }'), ['aws.endpoints.s3: must be scheme://host[:port] with no path, query or credentials, got "https://s3.example/x"']],
  ['endpoint with credentials', edit('aws: {}', 'aws: { endpoints: { s3: "https://u:p@s3.example" } }'), ['aws.endpoints.s3: must be scheme://host[:port] with no path, query or credentials, got "https://u:p@s3.example"']],
  ['bad role ARN', edit('role_arn: "arn:aws:iam::123456789012:role/r"', 'role_arn: "arn:aws:iam::12345:role/r"'), ['executors.reader.aws.role_arn: must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got "arn:aws:iam::12345:role/r"']],
  ['user ARN instead of role', edit('role_arn: "arn:aws:iam::123456789012:role/r"', 'role_arn: "arn:aws:iam::123456789012:user/r"'), ['executors.reader.aws.role_arn: must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got "arn:aws:iam::123456789012:user/r"']],
  ['short external id', edit('role/r"', 'role/r", external_id: x'), ['executors.reader.aws.external_id: must be 2-1224 characters of [A-Za-z0-9_+=,.@:/-]']],
  ['executor with no target', edit('reader: { aws: { role_arn: "arn:aws:iam::123456789012:role/r" } }', 'reader: {}\n  w: { aws: { role_arn: "arn:aws:iam::123456789012:role/r" } }'), ['executors.reader: needs aws or k8s', 'read_executor: executor "reader" has no aws profile, but the aws target is served']],
  ['no target section', edit('aws: {}', ''), ['(top level): at least one of aws, kube is required (an absent section is not served)']],
  ['null target section', edit('aws: {}', 'aws:'), ['aws: must be a mapping, got null']],
  ['read_executor naming nothing', edit('read_executor: reader', 'read_executor: nobody'), ['read_executor: names no executor, got "nobody"']],
  ['read_executor missing under reads: allow', edit('read_executor: reader', ''), ['read_executor: required when reads is allow']],
  ['bad reads value', edit('read_executor: reader', 'read_executor: reader\nreads: maybe'), ['reads: must be one of allow, certify, deny, got "maybe"']],
  ['duplicate YAML key', edit('aws: {}', 'aws: {}\naws: {}'), ['line 9, column 1: Map keys must be unique']],
  ['YAML tag', edit('aws: {}', 'aws: !!map {}'), ['line 8, column 12: YAML tags are not allowed']],
  ['YAML 1.1 directive', `%YAML 1.1\n---\n${MINIMAL}`, ['line 1, column 1: only YAML 1.2 is accepted']],
  ['non-string mapping key', edit('reader: {', '1: { k8s: { user: u } }\n  reader: {'), ['line 7, column 3: mapping keys must be strings']],
  ['bad listen address', `${MINIMAL}listen: { aws: "0.0.0.0:99999", kube: "example.com:1", admin: "::1:80" }\n`, [
    'listen.aws: must be host:port with an IPv4, [IPv6] or localhost host and a port 0-65535, got "0.0.0.0:99999"',
    'listen.kube: must be host:port with an IPv4, [IPv6] or localhost host and a port 0-65535, got "example.com:1"',
    'listen.admin: must be host:port with an IPv4, [IPv6] or localhost host and a port 0-65535, got "::1:80"',
  ]],
  ['duplicate issuer', edit('issuers: [{ iss: sab, jwks: sab.jwks }]', 'issuers: [{ iss: sab, jwks: a }, { iss: sab, jwks: b }]'), ['trust.issuers[1].iss: duplicate issuer "sab"']],
  ['empty issuers', edit('issuers: [{ iss: sab, jwks: sab.jwks }]', 'issuers: []'), ['trust.issuers: must not be empty']],
  ['http jwks', edit('jwks: sab.jwks', 'jwks: "http://sab/jwks"'), ['trust.issuers[0].jwks: must be a https:// URL, got "http://sab/jwks"']],
  ['two kube sources', edit('aws: {}', 'aws: {}\nkube: { in_cluster: true, server: "https://k8s:6443" }'), [
    'kube: exactly one of in_cluster: true, server, kubeconfig is allowed, got in_cluster and server',
    'read_executor: executor "reader" has no k8s profile, but the kube target is served',
  ]],
  ['bad record sink', `${MINIMAL}records: { sink: stderr }\n`, ['records.sink: must be "stdout", {file: PATH} or {fluent: {host, port, tag}}, got "stderr"']],
  ['fluent without port', `${MINIMAL}records: { sink: { fluent: { host: h, tag: t } } }\n`, ['records.sink.fluent.port: required']],
  ['redis url with a password', `${MINIMAL}replay: { store: { redis: { url: "redis://:pw@r:6379" } } }\n`, ['replay.store.redis.url: must not hold a password (use password_file)']],
  ['redis check_persistence not a boolean', `${MINIMAL}replay: { store: { redis: { url: "redis://r:6379", check_persistence: "no" } } }\n`, ['replay.store.redis.check_persistence: must be true or false, got "no"']],
  ['non-redis url', `${MINIMAL}replay: { store: { redis: { url: "https://r" } } }\n`, ['replay.store.redis.url: must be a redis:// or rediss:// URL, got "https://r"']],
  ['secret not echoed', edit('aws: {}', 'aws: { credentials: { access_key_id: a, secret_access_key: 12345 } }'), ['aws.credentials.secret_access_key: must be a string, got number']],
  ['bad mint', edit('aws: {}', 'aws: { mint: always }'), ['aws.mint: must be one of per_scope, per_certificate, got "always"']],
  ['empty principals', edit('audience: aud-1', 'audience: aud-1, principals: []'), ['broker.principals: must not be empty (leave it out to accept any sub)']],
  ['bad broker id', edit('audience: aud-1', 'audience: aud-1, id: "has space"'), ['broker.id: must be 1-32 characters of [A-Za-z0-9_+=,.@-] (it goes into STS session names), got "has space"']],
  ['section of the wrong type', `${MINIMAL}limits: [1]\n`, ['limits: must be a mapping, got a list']],
  ['alias to its own ancestor', `${MINIMAL}x: &a [*a]\n`, ['line 9, column 7: alias refers to its own ancestor']],
  ['__proto__ is a key like any other', `${MINIMAL}__proto__: { audience: x }\n`, ['__proto__: unknown key']],
  ['not a mapping at all', '- 1\n', ['(top level): must be a mapping, got a list']],
];

t.test('bad configs report the exact problem lines', async (t) => {
  for (const [name, text, want] of BAD) t.same(problemsOf(text), want, name);
});

t.test('alias expansion is bounded (no exponential blow-up)', async (t) => {
  const layers = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++) layers.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
  const got = problemsOf(`${MINIMAL}${layers.join('\n')}\n`);
  t.equal(got.length, 1);
  t.match(got[0], /^line 10, column \d+: more than 100 aliases$/);
});

t.test('every problem is reported, not just the first', async (t) => {
  const text = `
broker: { audiense: x }
trust: { issuers: [{ iss: sab }], max_validity: "900" }
authority: { iss: other, file: a, url: "https://x" }
executors:
  w: { aws: { role_arn: nope } }
reads: deny
aws: { endpoints: { s3: "http://x" } }
limits: { max_stream: -1 }
`;
  t.same(problemsOf(text), [
    'broker.audiense: unknown key',
    'broker.audience: required',
    'trust.issuers[0].jwks: required',
    'trust.max_validity: must be a positive integer, got "900"',
    'executors.w.aws.role_arn: must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got "nope"',
    'aws.endpoints.s3: http:// or loopback endpoints need aws.allow_insecure_endpoints: true, got "http://x"',
    'authority.iss: must be one of trust.issuers, got "other"',
    'authority: exactly one of file, url, configmap is allowed, got file and url',
    'limits.max_stream: must be a positive integer, got -1',
  ]);
});

t.test('ConfigError is a UsageError, so the CLI exits 2', async (t) => {
  t.ok(new ConfigError(['x']) instanceof UsageError);
});

t.test('loadConfigFile resolves paths against the file and prefixes problems with it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'seb-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = join(dir, 'seb.yaml');
  await writeFile(good, MINIMAL);
  const c = await loadConfigFile(good);
  t.equal(c.trust.issuers[0]?.jwks, join(dir, 'sab.jwks'));
  t.same(c.authority.source, { file: join(dir, 'a.jws') });

  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, `${MINIMAL}extra: 1\n`);
  await t.rejects(loadConfigFile(bad), { name: 'UsageError', problems: [`${bad}: extra: unknown key`] });
  const missing = join(dir, 'missing.yaml');
  await t.rejects(loadConfigFile(missing), { name: 'UsageError', problems: [`${missing}: cannot read: ENOENT`] });
});
