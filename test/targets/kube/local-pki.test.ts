import t, { type Test } from 'tap';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import {
  checkServerIdentity,
  connect as tlsConnect,
  createServer as createTlsServer,
  type PeerCertificate,
  type TLSSocket,
} from 'node:tls';
import type { AddressInfo } from 'node:net';
import { issueClientCert, issueServingCert, makeLocalCa, type LocalCa } from '../../../src/targets/kube/local-pki.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = new Date('2026-03-01T12:00:00Z');

/** GET https://127.0.0.1:port/ with `ca` as the only trust (none: Node's default roots). */
function fetchWith(port: number, ca: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/', ...(ca === undefined ? {} : { ca }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

async function serve(t: Test, cert: { certPem: string; keyPem: string }): Promise<number> {
  const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return (server.address() as AddressInfo).port;
}

t.test('the CA is a self-signed P-256 CA valid for a year', async (t) => {
  const ca = await makeLocalCa('seb local CA', NOW);
  const cert = new X509Certificate(ca.certPem);
  t.equal(cert.ca, true);
  t.equal(cert.subject, 'CN=seb local CA');
  t.equal(cert.issuer, cert.subject);
  t.ok(cert.checkIssued(cert), 'self-issued');
  t.ok(cert.verify(cert.publicKey), 'self-signed');
  t.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.equal(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime(), 365 * DAY_MS + 5 * 60 * 1000);
  t.ok(new Date(cert.validFrom) <= NOW, 'valid from before now');
  t.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8');
  t.ok(cert.checkPrivateKey(createPrivateKey(ca.keyPem)), 'key matches cert');
  const keyUsage = ca.certificate.getExtension('2.5.29.15');
  t.ok(keyUsage?.critical, 'keyUsage present and critical');
});

t.test('the serving certificate carries every host as a SAN and serverAuth', async (t) => {
  const ca = await makeLocalCa('seb local CA', NOW);
  const serving = await issueServingCert(ca, ['127.0.0.1', '::1', 'localhost', 'seb.internal'], NOW);
  const cert = new X509Certificate(serving.certPem);
  const caCert = new X509Certificate(ca.certPem);
  t.equal(cert.ca, false);
  t.ok(cert.checkIssued(caCert), 'issued by the CA');
  t.ok(cert.verify(caCert.publicKey), 'signed by the CA key');
  t.equal(cert.subjectAltName, 'IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost, DNS:seb.internal');
  t.same(cert.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth only');
  t.equal(new Date(cert.validTo).getTime() - NOW.getTime(), 30 * DAY_MS);
  const table: [string, string | undefined][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['localhost', 'localhost'],
    ['::1', '::1'],
    ['other.example', undefined],
  ];
  for (const [host, expected] of table) {
    const mismatch = checkServerIdentity(host, {
      subjectaltname: cert.subjectAltName ?? '',
      subject: { CN: '127.0.0.1' },
    } as PeerCertificate);
    t.equal(mismatch === undefined ? host : undefined, expected, `identity check for ${host}`);
  }
});

t.test('a client trusting only the CA accepts the serving certificate; without it, refused', async (t) => {
  const ca = await makeLocalCa('seb local CA');
  const port = await serve(t, await issueServingCert(ca, ['127.0.0.1', 'localhost']));
  t.equal(await fetchWith(port, ca.certPem), 'ok');
  await t.rejects(fetchWith(port, undefined), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'default roots do not know the CA');
  const otherCa = await makeLocalCa('seb local CA');
  await t.rejects(fetchWith(port, otherCa.certPem), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'a CA of the same name is not enough');
});

t.test('a serving certificate for other hosts is refused on 127.0.0.1', async (t) => {
  const ca = await makeLocalCa('seb local CA');
  const port = await serve(t, await issueServingCert(ca, ['localhost']));
  await t.rejects(fetchWith(port, ca.certPem), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

t.test('a serving certificate needs a host', async (t) => {
  const ca = await makeLocalCa('seb local CA');
  await t.rejects(issueServingCert(ca, []), /at least one host/);
});

t.test('a client certificate authenticates as CN with O groups to a server trusting the CA', async (t) => {
  const ca: LocalCa = await makeLocalCa('seb local CA');
  const serving = await issueServingCert(ca, ['127.0.0.1']);
  const client = await issueClientCert(ca, 'seb-broker', ['system:masters', 'seb:executors']);
  const clientCert = new X509Certificate(client.certPem);
  t.same(clientCert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'extKeyUsage clientAuth only');
  t.equal(clientCert.subject, 'CN=seb-broker\nO=system:masters\nO=seb:executors');

  const server = createTlsServer({
    cert: serving.certPem,
    key: serving.keyPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: true,
  });
  const peers: { CN: unknown; O: unknown }[] = [];
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate();
    peers.push({ CN: peer.subject.CN, O: peer.subject.O });
    socket.end('hello');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;

  const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.certPem, cert: client.certPem, key: client.keyPem });
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  await once(socket, 'end');
  t.equal(received, 'hello');
  t.same(peers, [{ CN: 'seb-broker', O: ['system:masters', 'seb:executors'] }]);

  // A certificate from another CA is refused by the server's handshake. TLS 1.2 keeps the check
  // inside the handshake, so the client never completes it (under 1.3 it would, and only then see a close).
  const stranger = await issueClientCert(await makeLocalCa('other'), 'seb-broker', []);
  const refused = tlsConnect({
    host: '127.0.0.1',
    port,
    ca: ca.certPem,
    cert: stranger.certPem,
    key: stranger.keyPem,
    maxVersion: 'TLSv1.2',
  });
  refused.on('secureConnect', () => t.fail('no handshake for a stranger'));
  const [err] = (await once(refused, 'error')) as [Error];
  t.match(err.message, /before secure TLS connection was established|alert/i, 'the server refused the handshake');
  t.equal(peers.length, 1, 'no second authenticated connection');
});
