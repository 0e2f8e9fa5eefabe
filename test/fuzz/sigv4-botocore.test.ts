/**
 * Fuzz: the broker's SigV4 re-signing (src/targets/aws/sign.ts) against a second implementation,
 * botocore's SigV4Auth / S3SigV4Auth (test/fuzz/botocore_check.py). Requests of every protocol go
 * through the broker's own path (aws-chunked removed and integrity checked, understood, signed
 * exactly as targets/aws/adapter.ts prepare() signs them: semantic and checked integrity headers, the
 * raw path and query on the wire, the decoded query signed) and one Python process recomputes each
 * signature as an AWS endpoint would, from the wire form. Every one must be equal.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import fc from 'fast-check';
import { sha256Hex } from '../../src/lib/digest.js';
import { resolveEndpoint } from '../../src/targets/aws/endpoints.js';
import { parseQuery } from '../../src/targets/aws/query-string.js';
import { signUpstream, type SignedRequest } from '../../src/targets/aws/sign.js';
import { INSTALL_HINTS, requirePeer } from '../helpers/peers.js';
import { check, Coverage, outcome } from './harness.js';
import { frame, wireHeaderValue, type Framing } from './arbitraries.js';
import { anyRequest, s3Request, understand, type Req } from './aws-requests.js';

const TARGET = 'sigv4-botocore';
const CHECKER = fileURLToPath(new URL('./botocore_check.py', import.meta.url));

const python = requirePeer('python3', INSTALL_HINTS.python3);
const probe = spawnSync(python, ['-c', 'import botocore'], { encoding: 'utf8', timeout: 60_000 });
if (probe.status !== 0) throw new Error(`botocore is not importable by ${python}: ${INSTALL_HINTS.botocore}`);

interface Answer {
  readonly ok: boolean;
  readonly expected?: string;
  readonly got?: string;
  readonly canonical?: string;
  readonly error?: string;
}

/** One Python process for the whole file: requests go in as JSON lines, answers come back in order. */
class Botocore {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: ((a: Answer) => void)[] = [];
  #exited: string | null = null;

  constructor() {
    this.#child = spawn(python, [CHECKER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.#child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#waiting.shift()?.(JSON.parse(line) as Answer));
    this.#child.on('exit', (code) => {
      this.#exited = `botocore_check.py exited (${code}): ${stderr.slice(-2000)}`;
      for (const w of this.#waiting.splice(0)) w({ ok: false, error: this.#exited });
    });
  }

  ask(request: unknown): Promise<Answer> {
    if (this.#exited !== null) return Promise.resolve({ ok: false, error: this.#exited });
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#child.stdin.write(JSON.stringify(request) + '\n');
    });
  }

  close(): void {
    this.#child.stdin.end();
    this.#child.kill();
  }
}

const botocore = new Botocore();
t.teardown(() => botocore.close());

const credentials = fc.record({
  accessKeyId: fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'), minLength: 16, maxLength: 20 }).map((s) => `ASIA${s}`),
  secretAccessKey: fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'), minLength: 40, maxLength: 40 }),
  sessionToken: fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/='), minLength: 1, maxLength: 120 }),
});

/** S3 PUTs also arrive aws-chunked (signed chunks or an unsigned trailer), as the SDKs stream them. */
const chunked = fc
  .tuple(s3Request, fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 4 }), fc.constantFrom<Framing>('STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'), fc.constantFrom('crc32' as const, 'sha256' as const, null))
  .map(([r, sizes, framing, checksum]): Req => {
    if (r.method !== 'PUT' || r.body.length === 0) return r;
    const c = frame(r.body, sizes, framing, checksum, false, 'a'.repeat(64));
    const headers: Record<string, string> = { ...r.headers, ...c.headers, 'content-length': String(c.raw.length) };
    delete headers['content-md5'];
    return { ...r, headers, body: c.raw };
  });

async function signAsBroker(r: Req, creds: { accessKeyId: string; secretAccessKey: string; sessionToken: string }, now: Date): Promise<{ signed: SignedRequest; payload: Buffer; service: string; region: string } | null> {
  const read = outcome(() => understand(r));
  if (!read.ok) return null;
  const { operation, payload, integrity } = read.value;
  const endpoint = resolveEndpoint(operation.service, operation.region, {});
  const signed = await signUpstream({
    service: operation.service,
    method: r.method,
    path: r.path,
    query: parseQuery(r.query),
    rawQuery: r.query,
    headers: { ...operation.headers, ...integrity },
    payload,
    payloadHash: sha256Hex(payload),
    endpoint,
    credentials: { ...creds, expiration: new Date(now.getTime() + 900_000) },
    now,
  });
  return { signed, payload, service: endpoint.signingService, region: endpoint.signingRegion };
}

t.test('botocore computes the same Authorization for every request the broker signs', async (t) => {
  const cov = new Coverage();
  const dates = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true });
  // One more semantic header, sometimes with obs-text: the broker must refuse what it cannot sign one way.
  const requests = fc.tuple(fc.oneof(anyRequest, chunked), fc.option(wireHeaderValue, { nil: null })).map(([r, extra]): Req => (extra === null ? r : { ...r, headers: { ...r.headers, 'x-amz-meta-wire': extra } }));
  await check(t, TARGET, 'broker signature == botocore signature', fc.asyncProperty(requests, credentials, dates, async (r, creds, now) => {
    const mine = await signAsBroker(r, creds, now);
    if (mine === null) {
      cov.hit('refused');
      return true;
    }
    cov.hit(r.headers['authorization']!.includes('/s3/') ? 's3' : 'other');
    if (r.headers['content-encoding']?.includes('aws-chunked')) cov.hit('chunked');
    const answer = await botocore.ask({
      method: r.method,
      url: mine.signed.url,
      headers: mine.signed.headers,
      body_b64: mine.payload.toString('base64'),
      access_key: creds.accessKeyId,
      secret_key: creds.secretAccessKey,
      token: creds.sessionToken,
      region: mine.region,
      service: mine.service,
      s3: mine.service === 's3',
    });
    if (!answer.ok) throw new Error(`botocore disagrees: ${JSON.stringify(answer)}`);
    return true;
  }));
  t.ok(cov.count('s3') > 0 && cov.count('other') > 0 && cov.count('chunked') > 0, `signed: ${cov.count('s3')} s3 (${cov.count('chunked')} aws-chunked), ${cov.count('other')} other; ${cov.count('refused')} refused`);
  t.ok(cov.count('refused') < cov.count('s3') + cov.count('other'), 'most generated requests are ones the broker signs');
});
