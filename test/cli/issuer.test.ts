import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { Authority } from '../../src/authority/state.js';
import { loadPrivateJwk, privateKeyFromJwk } from '../../src/certificate/keys.js';
import { TrustStore } from '../../src/certificate/trust.js';
import { CertificateVerifier } from '../../src/certificate/verify.js';
import { command as authorityIssue } from '../../src/cli/authority.js';
import { commands as certCommands, sign } from '../../src/cli/cert.js';
import type { Command, FlagValue } from '../../src/cli/command.js';
import { command as digest } from '../../src/cli/digest.js';
import { command as keysGenerate } from '../../src/cli/keys.js';
import { startIssuer } from '../../src/dev/issuer.js';

const [certIssue, certInspect] = certCommands as [Command, Command];
const dir = mkdtempSync(join(tmpdir(), 'seb-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function run(cmd: Command, flags: Record<string, FlagValue | undefined>, positionals: string[] = [], stdin = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const code = await cmd.run({ flags, positionals, rest: [] }, { stdout, stderr, stdin: Readable.from([Buffer.from(stdin)]), env: {} });
  return { code, out, err };
}

const S3_OP = JSON.stringify({
  target: 'aws', service: 's3', region: 'us-east-1', operation: 'PutObject', resource: 'arn:aws:s3:::b/k',
  headers: { 'content-type': 'text/csv' }, body: { sha256: 'ab'.repeat(32) },
});

t.test('command shapes', async (t) => {
  t.same(keysGenerate.path, ['keys', 'generate']);
  t.same(certIssue.path, ['cert', 'issue']);
  t.same(certInspect.path, ['cert', 'inspect']);
  t.same(authorityIssue.path, ['authority', 'issue']);
  t.same(digest.path, ['digest']);
});

for (const alg of ['EdDSA', 'ES256'] as const) {
  t.test(`keys generate -> cert issue -> verify (${alg})`, async (t) => {
    const out = join(dir, `keys-${alg}`);
    const gen = await run(keysGenerate, { out, alg, kid: `sab-${alg}` });
    t.equal(gen.code, 0, gen.err);
    t.equal(statSync(join(out, 'private.jwk.json')).mode & 0o777, 0o600, 'private key is owner-only');
    const priv = JSON.parse(readFileSync(join(out, 'private.jwk.json'), 'utf8'));
    t.match(priv, { kid: `sab-${alg}`, alg, d: String });
    const pub = JSON.parse(readFileSync(join(out, 'public.jwks.json'), 'utf8'));
    t.equal(pub.keys.length, 1);
    t.notOk('d' in pub.keys[0], 'public JWKS holds no private part');
    const loaded = await loadPrivateJwk(join(out, 'private.jwk.json'));
    t.equal(loaded.alg, alg);

    const again = await run(keysGenerate, { out });
    t.equal(again.code, 1, 'never overwrites a key');
    t.match(again.err, /already exists/);

    const issued = await run(certIssue, {
      key: join(out, 'private.jwk.json'), iss: 'sab.test', aud: 'seb:test', sub: 'agent:7', identity: 's3-writer',
      op: [S3_OP, '{"target":"k8s","verb":"delete","group":"","version":"v1","resource":"pods","namespace":"web","name":"p"}'],
      'policy-epoch': 4, jti: 'cert-42', ttl: 120,
    });
    t.equal(issued.code, 0, issued.err);
    const jws = issued.out.trim();
    t.match(issued.out, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'the JWS alone on stdout');

    const trust = await TrustStore.load([{ iss: 'sab.test', jwks: join(out, 'public.jwks.json') }]);
    const cert = await new CertificateVerifier({ trust, audience: 'seb:test', principals: ['agent:7'], maxValidity: 900, skew: 30 }).verify(jws);
    t.equal(cert.jti, 'cert-42');
    t.equal(cert.policy_epoch, 4);
    t.equal(cert.exp - cert.nbf, 120);
    t.equal(cert.contract.id, 'cert-42');
    t.match(cert.contract.ops[0], { params: {}, pre_state: null, max_uses: 1 });
    t.match(cert.contract.ops[1], { subresource: null, body: null, content_type: null });

    const state = await run(authorityIssue, {
      key: join(out, 'private.jwk.json'), iss: 'sab.test', seq: 3, 'policy-epoch': 4, 'revocation-epoch': 0,
      'revoke-sub': ['agent:evil'],
    });
    t.equal(state.code, 0, state.err);
    const authority = new Authority({ trust, iss: 'sab.test', maxAgeCap: 300, skew: 30, maxValidity: 900 });
    t.same(await authority.offer(state.out.trim()), { accepted: true });
    t.equal(authority.snapshot()?.max_age, 30, 'max_age defaults to 30');
    t.doesNotThrow(() => authority.check(cert));
  });
}

t.test('cert issue refuses bad input with usage errors', async (t) => {
  const out = join(dir, 'keys-usage');
  await run(keysGenerate, { out });
  const base = { key: join(out, 'private.jwk.json'), iss: 'i', aud: 'a', sub: 's', identity: 'x', op: [S3_OP] };
  const cases: [string, Record<string, FlagValue | undefined>, RegExp][] = [
    ['bad op JSON', { ...base, op: ['{'] }, /--op\[0\]: not strict JSON/],
    ['duplicate key in op', { ...base, op: ['{"target":"aws","target":"k8s"}'] }, /--op\[0\]/],
    ['op missing service', { ...base, op: ['{"target":"aws","region":null,"operation":"X","resource":"*"}'] }, /--op\[0\]\.service: missing/],
    ['second op bad', { ...base, op: [S3_OP, '{"target":"aws"}'] }, /--op\[1\]/],
    ['no op', { ...base, op: undefined }, /--op/],
    ['bad jti', { ...base, jti: 'a b' }, /--jti/],
    ['negative ttl', { ...base, ttl: -1 }, /--ttl/],
    ['missing iss', { ...base, iss: undefined }, /--iss: required/],
    ['bad key file', { ...base, key: join(dir, 'nope.json') }, /--key: .*nope\.json: cannot read/],
  ];
  for (const [name, flags, problem] of cases) {
    await t.rejects(run(certIssue, flags), { name: 'UsageError', message: problem }, name);
  }
  await t.rejects(run(keysGenerate, { out: join(dir, 'x'), alg: 'RS256' }), { name: 'UsageError', message: /--alg/ });
  await t.rejects(run(authorityIssue, { key: base.key, iss: 'i', seq: 1.5, 'policy-epoch': 0, 'revocation-epoch': 0 }), { name: 'UsageError', message: /--seq/ });
});

t.test('cert issue signs even an expired certificate; inspect with a config explains the verdict', async (t) => {
  const keys = join(dir, 'keys-inspect');
  await run(keysGenerate, { out: keys, kid: 'k1' });
  const key = join(keys, 'private.jwk.json');
  const authorityPath = join(dir, 'authority.jws');
  const state = await run(authorityIssue, { key, iss: 'sab.test', seq: 1, 'policy-epoch': 2, 'revocation-epoch': 0, 'revoke-jti': ['revoked-1'] });
  writeFileSync(authorityPath, state.out);
  const configPath = join(dir, 'seb.yaml');
  writeFileSync(configPath, [
    'broker:', '  id: seb-test', '  audience: seb:test',
    'trust:', '  issuers:', `    - iss: sab.test`, `      jwks: ${join(keys, 'public.jwks.json')}`,
    'authority:', '  iss: sab.test', `  file: ${authorityPath}`,
    'read_executor: reader',
    'executors:', '  reader: { aws: { role_arn: "arn:aws:iam::123456789012:role/r" } }',
    '  s3-writer: { aws: { role_arn: "arn:aws:iam::123456789012:role/w" } }',
    'aws: {}', '',
  ].join('\n'));
  const now = Math.floor(Date.now() / 1000);
  const base = { key, iss: 'sab.test', aud: 'seb:test', sub: 'agent:7', identity: 's3-writer', op: [S3_OP], 'policy-epoch': 2 };
  const cases: [string, Record<string, FlagValue | undefined>, string][] = [
    ['valid', base, 'valid'],
    ['expired', { ...base, nbf: now - 1000, ttl: 300 }, 'expired'],
    ['wrong audience', { ...base, aud: 'seb:other' }, 'wrong_audience'],
    ['policy epoch', { ...base, 'policy-epoch': 1 }, 'policy_epoch_mismatch'],
    ['revoked jti', { ...base, jti: 'revoked-1' }, 'revoked'],
    ['unknown identity', { ...base, identity: 'nobody' }, 'unknown_execution_identity'],
    ['wrong issuer', { ...base, iss: 'sab.other' }, 'untrusted_issuer'],
  ];
  for (const [name, flags, verdict] of cases) {
    const issued = await run(certIssue, flags);
    t.equal(issued.code, 0, `${name}: issued`);
    const inspected = await run(certInspect, { config: configPath }, ['-'], issued.out);
    t.equal(inspected.code, verdict === 'valid' ? 0 : 1, `${name}: exit status`);
    t.match(inspected.out, new RegExp(`^verdict: ${verdict}\\b`, 'm'), `${name}: verdict`);
    t.match(inspected.out, /"typ": "seb-cert\+jwt"/, `${name}: header shown`);
  }
  const plain = await run(certInspect, {}, ['not-a-jws']);
  t.equal(plain.code, 1);
});

t.test('digest prints the hex SHA-256 of the bytes or of the JCS form', async (t) => {
  const file = join(dir, 'body.json');
  const body = '{ "b": 1, "a": [true, "x"] }\n';
  writeFileSync(file, body);
  const rawDigest = await run(digest, {}, [file]);
  t.equal(rawDigest.out, `${createHash('sha256').update(body).digest('hex')}\n`);
  const jcs = await run(digest, { jcs: true }, [file]);
  t.equal(jcs.out, `${createHash('sha256').update('{"a":[true,"x"],"b":1}').digest('hex')}\n`);
  const stdin = await run(digest, { jcs: true }, ['-'], '{"a":[true,"x"],"b":1}');
  t.equal(stdin.out, jcs.out, 'stdin');
  const dup = await run(digest, { jcs: true }, ['-'], '{"a":1,"a":2}');
  t.equal(dup.code, 1, 'duplicate keys refused');
  t.equal(dup.out, '');
  const missing = await run(digest, {}, [join(dir, 'missing')]);
  t.equal(missing.code, 1);
});

t.test('the dev issuer revokes by jti or by the certificate itself, rewriting the authority state at once', async (t) => {
  const authorityFile = join(dir, 'dev-authority.jws');
  const logs: string[] = [];
  const issuer = await startIssuer({
    iss: 'seb-dev-issuer', audience: 'seb:dev', authorityFile, maxTtl: 900,
    identities: ['all', 'reader'], defaultSub: 'agent:dev', defaultIdentity: 'all', log: (l) => logs.push(l),
  });
  t.teardown(() => issuer.close());
  const claimsOf = (jws: string): Record<string, unknown> => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8'));
  const state = (): Record<string, unknown> => claimsOf(readFileSync(authorityFile, 'utf8').trim());
  t.match(state(), { seq: 1, revoked: { jti: [] } }, 'the first state is published before the issuer answers');
  const post = (path: string, body: string) => fetch(`${issuer.url}/${path}`, { method: 'POST', body });

  const issued = await post('certificates', JSON.stringify({ ops: [JSON.parse(S3_OP)] }));
  t.equal(issued.status, 200);
  const jws = (await issued.text()).trim();
  const jti = issued.headers.get('x-seb-jti')!;
  t.equal(claimsOf(jws)['jti'], jti);

  const byCertificate = await post('revoke', JSON.stringify({ certificate: jws }));
  t.equal(byCertificate.status, 200);
  t.same(await byCertificate.json(), { jti, seq: 2 });
  t.match(state(), { seq: 2, revoked: { jti: [jti] } }, 'the file holds the revocation when the answer arrives');
  const byJti = await post('revoke', JSON.stringify({ jti: 'other-1' }));
  t.same(await byJti.json(), { jti: 'other-1', seq: 3 });
  t.match(state(), { seq: 3, revoked: { jti: [jti, 'other-1'] } });

  // Signed by another key: never trusted for its jti.
  const { privateKey } = generateKeyPairSync('ed25519');
  const stranger = privateKeyFromJwk({ ...privateKey.export({ format: 'jwk' }), kid: 'stranger', alg: 'EdDSA' }, 'test key');
  const forged = await sign({ ...claimsOf(jws), jti: 'forged-1' }, 'seb-cert+jwt', stranger);
  for (const [body, problem] of [
    [JSON.stringify({ certificate: forged }), /^certificate: not a certificate this issuer signed\n$/],
    [JSON.stringify({ certificate: 'a.b.c' }), /^certificate: not a certificate this issuer signed\n$/],
    [JSON.stringify({ certificate: 7 }), /^certificate: must be a compact JWS\n$/],
    [JSON.stringify({ jti, certificate: jws }), /^give exactly one of jti and certificate\n$/],
    [JSON.stringify({}), /^give exactly one of jti and certificate\n$/],
    [JSON.stringify({ jti: 'a b' }), /^jti: must be/],
    [JSON.stringify({ sub: 'x' }), /^unknown field "sub"/],
    ['[]', /^the body must be a JSON object/],
  ] as const) {
    const res = await post('revoke', body);
    t.equal(res.status, 400, body.slice(0, 60));
    t.match(await res.text(), problem);
  }
  t.match(state(), { seq: 3 }, 'refused revocations publish nothing');
  t.notOk((state()['revoked'] as { jti: string[] }).jti.includes('forged-1'));
});
