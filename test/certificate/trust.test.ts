import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TrustStore } from '../../src/certificate/trust.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-trust-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const edPub = { ...generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }), kid: 'ed' };
const esPub = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'es' };
const edPriv = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'priv' };
const rsaPub = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), kid: 'rsa' };
const p384 = { ...generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }), kid: 'p384' };

let n = 0;
function file(content: unknown): string {
  const path = join(dir, `jwks-${n++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

t.test('loads EdDSA and ES256 keys, alg given or inferred', async (t) => {
  const store = await TrustStore.load([
    { iss: 'a', jwks: file({ keys: [edPub, { ...esPub, alg: 'ES256', use: 'sig' }] }) },
    { iss: 'b', jwks: file({ keys: [{ ...edPub, alg: 'EdDSA' }] }) },
  ]);
  t.ok(store.has('a'));
  t.ok(store.has('b'));
  t.notOk(store.has('c'));
  t.equal(store.key('a', 'ed')?.alg, 'EdDSA');
  t.equal(store.key('a', 'es')?.alg, 'ES256');
  t.equal(store.key('b', 'es'), undefined, 'keys are per issuer');
  t.equal(store.key('c', 'ed'), undefined);
});

t.test('bad JWKS files throw an error naming the issuer', async (t) => {
  const cases: [string, string][] = [
    ['missing file', join(dir, 'nope.json')],
    ['not JSON', file('{')],
    ['no keys', file({ keys: [] })],
    ['not a JWKS', file([edPub])],
    ['no kid', file({ keys: [{ ...edPub, kid: undefined }] })],
    ['private key', file({ keys: [edPriv] })],
    ['RSA', file({ keys: [rsaPub] })],
    ['P-384', file({ keys: [p384] })],
    ['alg mismatch', file({ keys: [{ ...edPub, alg: 'ES256' }] })],
    ['HS256 alg', file({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'h', alg: 'HS256' }] })],
    ['use enc', file({ keys: [{ ...edPub, use: 'enc' }] })],
    ['duplicate kid', file({ keys: [edPub, edPub] })],
    ['broken key material', file({ keys: [{ ...edPub, x: 'AAAA' }] })],
    ['plain http URL to a non-loopback host', 'http://sab.example/jwks.json'],
    ['unreachable loopback URL', 'http://127.0.0.1:1/jwks.json'],
  ];
  for (const [name, jwks] of cases) {
    await t.rejects(TrustStore.load([{ iss: 'sab.bad', jwks }]), { message: /trust issuer sab\.bad/ }, name);
  }
  const good = file({ keys: [edPub] });
  await t.rejects(TrustStore.load([{ iss: 'x', jwks: good }, { iss: 'x', jwks: good }]), { message: /listed twice/ });
});

t.test('https JWKS is fetched once through the injected fetch', async (t) => {
  const calls: string[] = [];
  const fetch = async (url: string) => {
    calls.push(url);
    return new Response(JSON.stringify({ keys: [edPub] }), { status: 200 });
  };
  const store = await TrustStore.load([{ iss: 'remote', jwks: 'https://issuer.test/jwks' }], { fetch });
  t.same(calls, ['https://issuer.test/jwks']);
  t.equal(store.key('remote', 'ed')?.alg, 'EdDSA');
  await t.rejects(
    TrustStore.load([{ iss: 'remote', jwks: 'https://issuer.test/jwks' }], { fetch: async () => new Response('no', { status: 404 }) }),
    { message: /trust issuer remote.*HTTP 404/ },
  );
});
