// Where `trust.issuers[].jwks` may point (SPEC §10): a file, an https URL, or http to a loopback
// host only (a local issuer, tests), as for `authority.url`.
import t from 'tap';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const config = (jwks: string) => `
broker: { audience: aud-1 }
trust: { issuers: [{ iss: sab, jwks: "${jwks}" }] }
authority: { iss: sab, file: a.jws }
read_executor: reader
executors:
  reader: { aws: { role_arn: "arn:aws:iam::123456789012:role/r" } }
aws: {}
`;

function jwksOf(jwks: string): string | readonly string[] {
  try {
    return parseConfig(config(jwks), '/etc/seb').trust.issuers[0]!.jwks;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

t.test('accepted', async (t) => {
  const cases: [string, string][] = [
    ['https://sab.example/jwks.json', 'https://sab.example/jwks.json'],
    ['http://127.0.0.1:8080/jwks.json', 'http://127.0.0.1:8080/jwks.json'],
    ['http://localhost/jwks.json', 'http://localhost/jwks.json'],
    ['http://[::1]:9/jwks.json', 'http://[::1]:9/jwks.json'],
    ['keys/sab.jwks', '/etc/seb/keys/sab.jwks'],
  ];
  for (const [given, want] of cases) t.equal(jwksOf(given), want, given);
});

t.test('refused', async (t) => {
  const cases: [string, string][] = [
    ['http://sab.example/jwks.json', 'trust.issuers[0].jwks: must be a https:// URL, got "http://sab.example/jwks.json"'],
    ['http://127.0.0.1.example/jwks.json', 'trust.issuers[0].jwks: must be a https:// URL, got "http://127.0.0.1.example/jwks.json"'],
    ['ftp://127.0.0.1/jwks.json', 'trust.issuers[0].jwks: must be a https:// URL, got "ftp://127.0.0.1/jwks.json"'],
  ];
  for (const [given, problem] of cases) t.same(jwksOf(given), [problem], given);
});
