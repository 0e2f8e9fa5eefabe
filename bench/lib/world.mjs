// Keys, certificates and broker configs for the benchmark, all made for the run.
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { issueServingCert, makeLocalCa } from '../../dist/targets/kube/local-pki.js';

const ISS = 'sab.bench';
const AUD = 'seb:bench';
const ACCOUNT = '123456789012';

function makeKey(kid) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    kid,
    privateKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' },
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'EdDSA' },
  };
}

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A compact JWS signed with node:crypto directly: the load generator must stay cheap. */
function jws(key, typ, claims) {
  const input = `${b64url({ alg: 'EdDSA', typ, kid: key.kid })}.${b64url(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

export const PUT_BODY = Buffer.alloc(1024, 'a');
export const PATCH_BODY = Buffer.from('{"spec":{"replicas":3}}');
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

export const OPS = {
  awsPut: {
    target: 'aws', service: 's3', region: 'us-east-1', operation: 'PutObject', resource: 'arn:aws:s3:::bench/k',
    params: {}, headers: {}, body: { sha256: sha256(PUT_BODY) }, pre_state: null, max_uses: 1,
  },
  kubePatch: {
    target: 'k8s', verb: 'patch', group: 'apps', version: 'v1', resource: 'deployments', subresource: null, path_suffix: null,
    namespace: 'default', name: 'web', generate_name: null, params: {}, content_type: 'application/merge-patch+json',
    // {"spec":{"replicas":3}} is already in JCS form.
    body: { jcs_sha256: sha256(PATCH_BODY) }, pre_state: null, max_uses: 1,
  },
};

export const AWS_HEADERS = {
  authorization: `AWS4-HMAC-SHA256 Credential=AKIDAGENT/20261126/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
  'x-amz-date': '20261126T000000Z',
};
export const PUT_SHA256 = sha256(PUT_BODY);

export async function makeWorld(dir) {
  mkdirSync(dir, { recursive: true });
  const issuer = makeKey('bench-issuer');
  const broker = makeKey('bench-broker');
  writeFileSync(join(dir, 'issuer.jwks.json'), JSON.stringify({ keys: [issuer.publicJwk] }));
  writeFileSync(join(dir, 'broker.jwk.json'), JSON.stringify(broker.privateJwk));
  const now = () => Math.floor(Date.now() / 1000);
  // max_age is capped (authority.max_age_cap, 300 s): republish as a SAB would, with a rising seq.
  let seq = 0;
  const publishAuthority = () => {
    seq += 1;
    const state = { iss: ISS, seq, iat: now(), max_age: 300, policy_epoch: 1, revocation_epoch: 0, revoked: { jti: [], sub: [] } };
    writeFileSync(join(dir, 'authority.jws'), jws(issuer, 'seb-authority+jwt', state));
  };
  publishAuthority();
  const ca = await makeLocalCa('bench CA');
  const serving = await issueServingCert(ca, ['127.0.0.1']);
  writeFileSync(join(dir, 'upstream-ca.crt'), ca.certPem);

  /** `count` fresh single-use certificates for `op`. */
  const certificates = (op, count) => {
    const out = new Array(count);
    const iat = now();
    for (let i = 0; i < count; i++) {
      out[i] = jws(issuer, 'seb-cert+jwt', {
        iss: ISS, sub: 'agent:bench', aud: AUD, jti: randomUUID(), iat, nbf: iat, exp: iat + 900,
        policy_epoch: 1, revocation_epoch: 0, execution_identity: 'writer', contract: { id: 'bench', evidence: '', ops: [op] },
      });
    }
    return out;
  };

  /**
   * A broker config against the fast upstream; `mint` per_scope (cached) or per_certificate (cold),
   * `sign` every (the default) or checkpoint (SPEC §8), `kube` false for an AWS-only broker.
   */
  const brokerConfig = (name, { ports, upstream, mint = 'per_scope', sign = 'every', kube = true }) => {
    const kubeconfig = join(dir, `${name}.kubeconfig`);
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1', kind: 'Config',
        clusters: [{ name: 'fast', cluster: { server: `https://127.0.0.1:${upstream.https}`, 'certificate-authority': join(dir, 'upstream-ca.crt') } }],
        users: [{ name: 'broker', user: { token: 'broker-token' } }],
        contexts: [{ name: 'fast', context: { cluster: 'fast', user: 'broker' } }],
        'current-context': 'fast',
      }),
    );
    const path = join(dir, `${name}.yaml`);
    writeFileSync(
      path,
      stringify({
        broker: { id: `seb-${name}`, audience: AUD, signing_key: join(dir, 'broker.jwk.json') },
        listen: { aws: `127.0.0.1:${ports.aws}`, ...(kube ? { kube: `127.0.0.1:${ports.kube}` } : {}), admin: `127.0.0.1:${ports.admin}` },
        trust: { issuers: [{ iss: ISS, jwks: join(dir, 'issuer.jwks.json') }] },
        authority: { iss: ISS, file: join(dir, 'authority.jws') },
        reads: 'allow',
        read_executor: 'reader',
        executors: {
          writer: { aws: { role_arn: `arn:aws:iam::${ACCOUNT}:role/w` }, ...(kube ? { k8s: { user: 'seb:writer', groups: ['seb:executors'] } } : {}) },
          reader: { aws: { role_arn: `arn:aws:iam::${ACCOUNT}:role/r` }, ...(kube ? { k8s: { user: 'seb:reader', groups: ['seb:reader'] } } : {}) },
        },
        aws: {
          credentials: { access_key_id: 'AKIDBROKER', secret_access_key: 'x' },
          endpoints: { default: `http://127.0.0.1:${upstream.http}`, sts: `http://127.0.0.1:${upstream.sts}` },
          allow_insecure_endpoints: true,
          mint,
        },
        ...(kube ? { kube: { kubeconfig, client_dir: join(dir, `${name}-client`) } } : {}),
        records: { sign },
      }),
    );
    return path;
  };

  return { certificates, brokerConfig, publishAuthority, upstreamTls: { cert: serving.certPem, key: serving.keyPem } };
}
