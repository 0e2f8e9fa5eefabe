/**
 * The kube listener's own PKI (SPEC §1): kubectl and client-go send no credentials to an `http://`
 * server (reference/k8s.md finding 1), so when no serving certificate is configured the broker
 * makes a local CA and a serving certificate at start and hands the CA to the agent through
 * `kube.client_dir`. The stand-in apiserver's tests also need client certificates from it.
 *
 * Keys are ECDSA P-256 made with Node's WebCrypto; private keys leave as PKCS#8 PEM
 * ("PRIVATE KEY"), the form `tls.createServer({ cert, key })` accepts.
 */
// @peculiar/x509 registers its algorithms through tsyringe, which needs the Reflect metadata API
// before it loads; ES imports are evaluated in order, so this one comes first.
import 'reflect-metadata';
import { isIP } from 'node:net';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
// @peculiar/x509 takes its WebCrypto from this provider; Node's own is the one we trust.
x509.cryptoProvider.set(webcrypto);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

const DAY_MS = 24 * 60 * 60 * 1000;
/** The CA outlives every serving certificate it issues; a broker restart makes a new one anyway. */
const CA_VALIDITY_MS = 365 * DAY_MS;
const LEAF_VALIDITY_MS = 30 * DAY_MS;
/**
 * notBefore is set this far in the past so a client whose clock runs slightly behind the broker's
 * (the agent container, kubectl) does not refuse a certificate made a moment ago as "not yet valid".
 */
const BACKDATE_MS = 5 * 60 * 1000;

export interface LocalCa {
  readonly certPem: string;
  readonly keyPem: string;
  /** The parsed CA certificate: its subject is every issued certificate's issuer. */
  readonly certificate: x509.X509Certificate;
  readonly signingKey: webcrypto.CryptoKey;
}

export interface IssuedCert {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A self-signed CA (basicConstraints CA, keyUsage keyCertSign|cRLSign) valid for one year. */
export async function makeLocalCa(commonName: string, now: Date = new Date()): Promise<LocalCa> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: [commonName] }],
    keys: keys,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      // pathLength 0: this CA signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: certificate.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    certificate,
    signingKey: keys.privateKey,
  };
}

/**
 * A TLS serving certificate for `hosts`: IP literals become iPAddress SANs, anything else a
 * dNSName. Go's TLS client (kubectl) ignores the subject CN and checks only the SANs, and
 * requires extKeyUsage serverAuth when the extension is present.
 */
export async function issueServingCert(
  ca: LocalCa,
  hosts: readonly string[],
  now: Date = new Date(),
): Promise<IssuedCert> {
  if (hosts.length === 0) throw new Error('a serving certificate needs at least one host');
  const sans: x509.JsonGeneralName[] = hosts.map((host) =>
    isIP(host) === 0 ? { type: 'dns', value: host } : { type: 'ip', value: host },
  );
  return issueLeaf(ca, now, [{ CN: [hosts[0]!] }], x509.ExtendedKeyUsage.serverAuth, [
    new x509.SubjectAlternativeNameExtension(sans),
  ]);
}

/**
 * A client certificate as the apiserver reads it: the subject CN is the user name and each O is a
 * group (Kubernetes x509 authenticator). One RDN per group so no value is joined or escaped.
 */
export async function issueClientCert(
  ca: LocalCa,
  commonName: string,
  groups: readonly string[],
  now: Date = new Date(),
): Promise<IssuedCert> {
  const subject: x509.JsonName = [{ CN: [commonName] }, ...groups.map((group) => ({ O: [group] }))];
  return issueLeaf(ca, now, subject, x509.ExtendedKeyUsage.clientAuth, []);
}

async function issueLeaf(
  ca: LocalCa,
  now: Date,
  subject: x509.JsonName,
  usage: x509.ExtendedKeyUsage,
  extra: readonly x509.Extension[],
): Promise<IssuedCert> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    issuer: ca.certificate.subjectName,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + LEAF_VALIDITY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // ECDSA keys sign the handshake; keyEncipherment applies to RSA key transport only.
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([usage]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
      ...extra,
    ],
  });
  return { certPem: certificate.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  // Extractable: the private key must leave WebCrypto as PKCS#8 for node:tls.
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

