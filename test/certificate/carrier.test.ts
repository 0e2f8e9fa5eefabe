import t from 'tap';
import { awsCarrier, kubeCarrier, typIs } from '../../src/certificate/carrier.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const cert = `${b64({ alg: 'EdDSA', typ: 'seb-cert+jwt', kid: 'k' })}.${b64({ iss: 'x' })}.c2ln`;
const certAppTyp = `${b64({ alg: 'EdDSA', typ: 'application/Seb-Cert+JWT', kid: 'k' })}.${b64({})}.c2ln`;
const otherJwt = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ sub: 'system:serviceaccount:x' })}.c2ln`;
const stsToken = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc/def==';

t.test('aws carrier', async (t) => {
  const cases: [string, Record<string, string>, string | null][] = [
    ['x-seb-certificate', { 'x-seb-certificate': cert }, cert],
    ['x-seb-certificate wins over the session token', { 'x-seb-certificate': cert, 'x-amz-security-token': certAppTyp }, cert],
    ['session token holding a certificate', { 'x-amz-security-token': cert }, cert],
    ['session token, application/ typ, any case', { 'x-amz-security-token': certAppTyp }, certAppTyp],
    ['ordinary STS session token', { 'x-amz-security-token': stsToken }, null],
    ['session token that is a JWS of another typ', { 'x-amz-security-token': otherJwt }, null],
    ['session token with a non-JSON header', { 'x-amz-security-token': 'bm9wZQ.e30.c2ln' }, null],
    // Read once, strictly, as the verifier reads it: a header with a duplicate member is no JWS header.
    ['session token with a duplicate typ', { 'x-amz-security-token': `${Buffer.from('{"typ":"seb-cert+jwt","typ":"seb-cert+jwt"}').toString('base64url')}.e30.c2ln` }, null],
    ['nothing', {}, null],
    ['bearer is not an aws carrier', { authorization: `Bearer ${cert}` }, null],
  ];
  for (const [name, headers, want] of cases) t.equal(awsCarrier(headers)?.token ?? null, want, name);
});

t.test('kube carrier', async (t) => {
  const cases: [string, Record<string, string>, string | null][] = [
    ['x-seb-certificate', { 'x-seb-certificate': cert, authorization: 'Bearer placeholder' }, cert],
    ['bearer JWS', { authorization: `Bearer ${cert}` }, cert],
    ['bearer scheme case-insensitive', { authorization: `bearer ${cert}` }, cert],
    ['bearer placeholder token', { authorization: 'Bearer unused' }, null],
    ['basic auth', { authorization: 'Basic dXNlcjpwYXNz' }, null],
    ['bearer with two tokens', { authorization: `Bearer ${cert} ${cert}` }, null],
    ['no authorization', {}, null],
    ['session token is not a kube carrier', { 'x-amz-security-token': cert }, null],
  ];
  for (const [name, headers, want] of cases) t.equal(kubeCarrier(headers)?.token ?? null, want, name);
});

t.test('an X-SEB-Certificate that is not a compact JWS is malformed_certificate', async (t) => {
  for (const value of ['', 'garbage', 'a.b', 'a.b.c.d', `${cert}=`, `${cert} `, 'a..c']) {
    t.throws(() => awsCarrier({ 'x-seb-certificate': value }), { name: 'Denial', code: 'malformed_certificate' }, `aws ${JSON.stringify(value)}`);
    t.throws(() => kubeCarrier({ 'x-seb-certificate': value }), { name: 'Denial', code: 'malformed_certificate' }, `kube ${JSON.stringify(value)}`);
  }
});

t.test('typIs', async (t) => {
  t.ok(typIs('seb-cert+jwt', 'seb-cert+jwt'));
  t.ok(typIs('SEB-CERT+JWT', 'seb-cert+jwt'));
  t.ok(typIs('application/seb-cert+jwt', 'seb-cert+jwt'));
  t.notOk(typIs('text/seb-cert+jwt', 'seb-cert+jwt'));
  t.notOk(typIs('seb-cert+jwt ', 'seb-cert+jwt'));
  t.notOk(typIs(undefined, 'seb-cert+jwt'));
  t.notOk(typIs(['seb-cert+jwt'], 'seb-cert+jwt'));
});
