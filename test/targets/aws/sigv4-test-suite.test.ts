/**
 * AWS's own "AWS Signature Version 4 Test Suite" through the broker's SigV4 code: every vector is
 * signed by src/targets/aws/sign.ts (the signer signUpstream uses, with the same options) and its
 * signed form (.sreq) is read by the broker's parser of agent requests (scope.ts credentialScope,
 * query-string.ts parseQuery).
 *
 * The vectors are loaded at test time from the devDependency `fluent-bit@0.0.3`, whose Fluent Bit
 * source ships them (tests/internal/data/signv4/aws-sig-v4-test-suite/); they are not copied into
 * this repository. They are Amazon's, under the Apache License 2.0: see LICENSE and NOTICE in that
 * folder ("AWS Signature Version 4 Test Suite, Copyright 2019 Amazon.com, Inc. or its affiliates").
 *
 * The signer does not expose its canonical request or string to sign, so the test proves them
 * through the chain: the vector's .sts holds SHA-256 of its .creq, its .authz signature is the HMAC
 * of the .sts under the derived key (both checked here, independently of the broker), and the
 * broker's signature equal to the .authz one means the broker built the same string to sign, hence
 * a canonical request with the same hash.
 */
import { createHash, createHmac } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import t from 'tap';
import type { AwsCredentials } from '../../../src/identity/types.js';
import { credentialScope } from '../../../src/targets/aws/scope.js';
import { parseQuery } from '../../../src/targets/aws/query-string.js';
import { signHeaders } from '../../../src/targets/aws/sign.js';
import type { Endpoint } from '../../../src/identity/types.js';
import { code } from '../../helpers/reason.js';

const SUITE_IN_PACKAGE = 'src/fluent-bit/tests/internal/data/signv4/aws-sig-v4-test-suite';
const INSTALL_HINT = 'npm ci installs the devDependency fluent-bit@0.0.3, whose source ships the suite';

// The suite's fixed inputs (its README): key, region, service and date of every vector.
const ACCESS_KEY = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const REGION = 'us-east-1';
const SERVICE = 'service';
const endpoint: Endpoint = { origin: 'https://example.amazonaws.com', signingRegion: REGION, signingService: SERVICE };

/**
 * Vectors whose request the broker refuses before signing: it never forwards them, so there is no
 * signature of its own to compare. The reason is the SPEC's, not a gap.
 */
const REFUSED: Readonly<Record<string, string>> = {
  // SPEC §2.1: a parameter sent twice is refused (upstreams differ on which value wins).
  'get-vanilla-query-order-key': 'unparseable_request',
  'get-vanilla-query-order-value': 'unparseable_request',
};

/**
 * Two vectors in Fluent Bit's copy are not AWS's as published: Fluent Bit edited them to fit its
 * own signer. The test keeps them, with the canonical request SigV4 (and so AWS) defines for their
 * .req; each fix is asserted to change the file, so the table goes stale loudly if the package
 * changes.
 */
const EDITED_BY_FLUENT_BIT: Readonly<Record<string, (creq: string, req: RawRequest) => string>> = {
  // The .creq lists content-type among the canonical headers but leaves it out of its
  // SignedHeaders line; the .sts and .authz sign it (SignedHeaders=content-type;host;x-amz-date).
  'post-x-www-form-urlencoded': (creq) => creq.replace('\nhost;x-amz-date\n', '\ncontent-type;host;x-amz-date\n'),
  // Fluent Bit moves a form body into the canonical query and hashes an empty payload; SigV4
  // signs an empty query and the SHA-256 of the body, as AWS verifies it.
  'post-x-www-form-urlencoded-parameters': (creq, req) => {
    const lines = creq.split('\n');
    lines[2] = '';
    lines[lines.length - 1] = createHash('sha256').update(req.body).digest('hex');
    return lines.join('\n');
  },
};

/**
 * Vectors whose request line carries raw non-ASCII in the query: the broker refuses that form
 * (query-string.ts: everything outside printable ASCII must arrive percent-encoded), and signs the
 * form every SDK sends, which must give the vector's signature.
 */
const QUERY_SENT_ENCODED = new Set(['get-vanilla-utf8-query']);

function suiteDir(): string {
  let pkg: string;
  try {
    pkg = dirname(createRequire(import.meta.url).resolve('fluent-bit/package.json'));
  } catch {
    throw new Error(`the npm package fluent-bit is not installed: ${INSTALL_HINT}`);
  }
  const dir = join(pkg, SUITE_IN_PACKAGE);
  if (!existsSync(join(dir, 'LICENSE'))) throw new Error(`${dir} is missing: ${INSTALL_HINT}`);
  return dir;
}

/** Every folder holding `<folder>.req`, recursively (normalize-path/ and post-sts-token/ nest). */
function vectorDirs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sub = join(dir, entry.name);
    if (existsSync(join(sub, `${entry.name}.req`))) out.push(sub);
    else out.push(...vectorDirs(sub));
  }
  return out.sort();
}

interface RawRequest {
  readonly method: string;
  readonly target: string;
  /** Lower-cased names; repeated names and continuation lines joined with `,`, as the suite's .creq files do. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Reads a .req/.sreq file: request line, `Name:value` lines (continuations indented), blank line, body. */
function parseRaw(text: string): RawRequest {
  const blank = text.indexOf('\n\n');
  const head = blank === -1 ? text : text.slice(0, blank);
  const body = Buffer.from(blank === -1 ? '' : text.slice(blank + 2), 'utf8');
  const [requestLine, ...lines] = head.split('\n');
  // The target may hold a raw space (normalize-path/get-space): split at the first and last space.
  const method = requestLine!.slice(0, requestLine!.indexOf(' '));
  const target = requestLine!.slice(method.length + 1, requestLine!.lastIndexOf(' '));
  const headers: Record<string, string> = Object.create(null);
  let last = '';
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      headers[last] += `,${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    last = line.slice(0, colon).toLowerCase();
    // Leading and trailing whitespace goes, as an HTTP server strips it (RFC 9110 §5.5).
    const value = line.slice(colon + 1).trim();
    headers[last] = last in headers ? `${headers[last]},${value}` : value;
  }
  return { method, target, headers, body };
}

const sha256 = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

function signatureOf(authz: string): string {
  return /Signature=([0-9a-f]{64})/.exec(authz)?.[1] ?? '';
}

/** Percent-encodes what an SDK would: bytes outside printable ASCII, and the space. */
function sdkEncode(raw: string): string {
  return Array.from(Buffer.from(raw, 'utf8'))
    .map((b) => (b > 0x20 && b < 0x7f ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

const dir = suiteDir();
const vectors = vectorDirs(dir);

t.test('the suite is the one AWS publishes: 31 vectors, Apache-2.0 licence and notice present', async (t) => {
  t.equal(vectors.length, 31);
  t.match(readFileSync(join(dir, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  t.match(readFileSync(join(dir, 'NOTICE'), 'utf8'), /AWS Signature Version 4 Test Suite/);
});

for (const vectorDir of vectors) {
  const name = basename(vectorDir);
  const file = (ext: string): string => readFileSync(join(vectorDir, `${name}.${ext}`), 'utf8');

  t.test(name, async (t) => {
    const req = parseRaw(file('req'));
    const creq = file('creq');
    const sts = file('sts');
    const authz = file('authz');
    const date = req.headers['x-amz-date']!;

    let key = hmac(`AWS4${SECRET}`, date.slice(0, 8));
    for (const part of [REGION, SERVICE, 'aws4_request']) key = hmac(key, part);
    const scope = `${date.slice(0, 8)}/${REGION}/${SERVICE}/aws4_request`;
    const fix = EDITED_BY_FLUENT_BIT[name];
    let expected = authz;
    if (fix === undefined) {
      // The vector is self-consistent: its string to sign hashes its canonical request, and its
      // signature is the HMAC of that string under the key derived from the suite's secret.
      t.equal(sts, ['AWS4-HMAC-SHA256', date, scope, sha256(creq)].join('\n'), 'the .sts is built from the .creq');
      t.equal(signatureOf(authz), hmac(key, sts).toString('hex'), 'the .authz signs the .sts');
    } else {
      const fixed = fix(creq, req);
      t.not(fixed, creq, 'the vector still carries the edit the fix undoes');
      const fixedSts = ['AWS4-HMAC-SHA256', date, scope, sha256(fixed)].join('\n');
      const signedHeaders = fixed.split('\n').at(-2);
      expected = `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/${scope}, SignedHeaders=${signedHeaders}, Signature=${hmac(key, fixedSts).toString('hex')}`;
    }

    // The broker's parser of agent requests reads the signed form's credential scope.
    const sreq = parseRaw(file('sreq'));
    const q = sreq.target.indexOf('?');
    const agentRequest = {
      method: sreq.method,
      path: q === -1 ? sreq.target : sreq.target.slice(0, q),
      query: q === -1 ? '' : sreq.target.slice(q + 1),
      headers: sreq.headers,
    };
    t.same(credentialScope(agentRequest), { service: SERVICE, region: REGION }, 'credentialScope reads the .sreq');

    const qi = req.target.indexOf('?');
    const path = qi === -1 ? req.target : req.target.slice(0, qi);
    let rawQuery = qi === -1 ? '' : req.target.slice(qi + 1);
    const refused = REFUSED[name];
    if (refused !== undefined) {
      t.equal(code(() => parseQuery(rawQuery)), refused, 'the broker refuses this request before signing');
      return;
    }
    if (QUERY_SENT_ENCODED.has(name)) {
      t.equal(code(() => parseQuery(rawQuery)), 'unparseable_request', 'the raw non-ASCII query is refused');
      rawQuery = sdkEncode(rawQuery);
    }

    // The session token is the identity's, as the broker's minted one is (post-sts-token/*): the
    // signer adds X-Amz-Security-Token itself. X-Amz-Date likewise comes from the signing date.
    const { 'x-amz-security-token': token = '', ...headers } = req.headers;
    const credentials: AwsCredentials = {
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET,
      sessionToken: token,
      expiration: new Date('2015-08-30T13:36:00Z'),
    };
    const now = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
    const signed = await signHeaders(
      // The vectors give the path before URI encoding; the signer encodes it once, as it encodes
      // the (already encoded) wire path of every non-S3 request a second time: the same rule.
      { method: req.method, path, query: parseQuery(rawQuery), headers, body: req.body },
      credentials,
      endpoint,
      true,
      now,
    );
    t.equal(signed['authorization'], expected, 'the broker signs as AWS does (hence the same string to sign and canonical request)');
  });
}
