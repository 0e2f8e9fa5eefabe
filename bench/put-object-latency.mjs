// Added latency of a certified 1 KiB S3 PutObject through the broker, identity cached, against a
// fast local upstream (an S3-like HTTP server answering 200 at once) and a local STS stand-in.
// Loopback only; bounded: SEB_BENCH_N requests (default 2000) one after another, then the same
// number sent directly. The full benchmark (rates, percentiles per path, nginx floor) is issue #5.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID, createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Agent, request } from 'undici';
import { CompactSign } from 'jose';
import { stringify } from 'yaml';
import { loadConfigFile } from '../dist/config/load.js';
import { startBroker } from '../dist/server/broker.js';

const N = Number(process.env.SEB_BENCH_N ?? 2000);
const deadline = Date.now() + 120_000;

function listen(handler) {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
const drain = (req, then) => { req.resume(); req.on('end', then); };

const upstream = await listen((req, res) => drain(req, () => { res.writeHead(200, { etag: '"x"', 'x-amz-request-id': 'r' }); res.end(); }));
const sts = await listen((req, res) => drain(req, () => {
  const exp = new Date(Date.now() + 3600_000).toISOString();
  res.writeHead(200, { 'content-type': 'text/xml' });
  res.end(`<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIABENCH</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>${exp}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/x/y</Arn><AssumedRoleId>AROA:y</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`);
}));

const dir = mkdtempSync(join(tmpdir(), 'seb-bench-'));
function key(kid) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid, privateKey, pub: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA' }, priv: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'EdDSA' } };
}
const issuer = key('iss-1');
const brokerKey = key('broker-1');
writeFileSync(join(dir, 'issuer.jwks.json'), JSON.stringify({ keys: [issuer.pub] }));
writeFileSync(join(dir, 'broker.jwk.json'), JSON.stringify(brokerKey.priv));
const sign = (typ, claims) => new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', typ, kid: issuer.kid }).sign(issuer.privateKey);
const now = () => Math.floor(Date.now() / 1000);
writeFileSync(join(dir, 'authority.jws'), await sign('seb-authority+jwt', { iss: 'sab.bench', seq: 1, iat: now(), max_age: 300, policy_epoch: 1, revocation_epoch: 0, revoked: { jti: [], sub: [] } }));
const origin = `http://127.0.0.1:${upstream.address().port}`;
writeFileSync(join(dir, 'seb.yaml'), stringify({
  broker: { id: 'seb-bench', audience: 'seb:bench', signing_key: join(dir, 'broker.jwk.json') },
  listen: { aws: '127.0.0.1:0', admin: '127.0.0.1:0' },
  trust: { issuers: [{ iss: 'sab.bench', jwks: join(dir, 'issuer.jwks.json') }] },
  authority: { iss: 'sab.bench', file: join(dir, 'authority.jws') },
  read_executor: 'reader',
  executors: { writer: { aws: { role_arn: 'arn:aws:iam::123456789012:role/w' } }, reader: { aws: { role_arn: 'arn:aws:iam::123456789012:role/r' } } },
  aws: { credentials: { access_key_id: 'AKIDBROKER', secret_access_key: 'x' }, endpoints: { default: origin, sts: `http://127.0.0.1:${sts.address().port}` }, allow_insecure_endpoints: true },
}));
const records = new PassThrough();
records.resume();
const broker = await startBroker(await loadConfigFile(join(dir, 'seb.yaml')), { recordsOut: records, log: () => {} });
const brokerOrigin = `http://127.0.0.1:${broker.aws.port}`;

const body = Buffer.alloc(1024, 'a');
const sha = createHash('sha256').update(body).digest('hex');
const op = { target: 'aws', service: 's3', region: 'us-east-1', operation: 'PutObject', resource: 'arn:aws:s3:::bench/k', params: {}, headers: {}, body: { sha256: sha }, pre_state: null, max_uses: 1 };
const certs = [];
for (let i = 0; i < N + 1; i++) {
  certs.push(await sign('seb-cert+jwt', { iss: 'sab.bench', sub: 'agent-bench', aud: 'seb:bench', jti: randomUUID(), iat: now(), nbf: now(), exp: now() + 600, policy_epoch: 1, revocation_epoch: 0, execution_identity: 'writer', contract: { id: 'c', evidence: '', ops: [op] } }));
}
const headers = (cert) => ({
  authorization: 'AWS4-HMAC-SHA256 Credential=AKIDAGENT/20261126/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + '0'.repeat(64),
  'x-amz-date': '20261126T000000Z', 'x-amz-content-sha256': sha, 'x-seb-certificate': cert,
});
const dispatcher = new Agent({ keepAliveTimeout: 30_000 });
const timing = {};
async function once(base, cert) {
  const t0 = performance.now();
  const r = await request(`${base}/bench/k`, { method: 'PUT', headers: headers(cert), body, dispatcher });
  await r.body.dump();
  if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}: ${r.headers['x-seb-reason']}`);
  const st = r.headers['server-timing'];
  if (st) for (const m of String(st).matchAll(/(\w+);dur=([\d.]+)/g)) (timing[m[1]] ??= []).push(Number(m[2]));
  return performance.now() - t0;
}
await once(brokerOrigin, certs[N]); // warm the identity cache and connections
for (let i = 0; i < 200; i++) await once(origin, 'x');
const direct = [], viaBroker = [];
for (let i = 0; i < N && Date.now() < deadline; i++) {
  direct.push(await once(origin, 'x'));
  viaBroker.push(await once(brokerOrigin, certs[i]));
}
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const row = (name, xs) => `| ${name} | ${xs.length} | ${q(xs, 0.5).toFixed(3)} | ${q(xs, 0.9).toFixed(3)} | ${q(xs, 0.99).toFixed(3)} |`;
const added = viaBroker.map((v, i) => v - direct[i]);
console.log(`certified 1 KiB PutObject, identity cached, sequential, ${cpus()[0].model}, node ${process.version}`);
console.log('| path | n | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|');
console.log(row('direct to upstream', direct));
console.log(row('through seb', viaBroker));
console.log(row('added by seb (paired)', added));
console.log('\nstages (Server-Timing, ms) | p50 | p99\n|---|---|---|');
for (const [stage, xs] of Object.entries(timing)) console.log(`| ${stage} | ${q(xs, 0.5).toFixed(3)} | ${q(xs, 0.99).toFixed(3)} |`);
await broker.close();
await dispatcher.close();
upstream.close();
sts.close();
rmSync(dir, { recursive: true, force: true });
