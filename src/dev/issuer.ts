/**
 * The development issuer of `seb dev` (SPEC §9): a stand-in for the SAB on a loopback port. It holds
 * a fresh Ed25519 key and signs, without any policy, a certificate for exactly the ops it is sent;
 * and as the authority issuer (SPEC §6) it keeps the broker's authority file fresh and carries
 * revocations into it. Signing goes through `seb cert issue`'s own helpers, and every op through
 * the broker's own schema, so it never hands out a certificate the broker would call malformed.
 *
 *   POST /certificates  {"ops": [...], "sub"?, "identity"?, "ttl"?}  -> 200 text/plain compact JWS
 *   POST /revoke        {"jti": "..."} or {"certificate": "<jws>"}   -> 200 application/json {"jti", "seq"}
 *
 * Bad input is a 400 with a one-line reason. Loopback only: anyone who reaches it can get any
 * certificate, which is the point of a sandbox and the reason it must not listen further.
 */
import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rename, writeFile } from 'node:fs/promises';
import { compactVerify, type JWK } from 'jose';
import { AUTHORITY_TYP, CERT_TYP } from '../certificate/carrier.js';
import { privateKeyFromJwk, type PrivateSigningKey } from '../certificate/keys.js';
import { completeOp, parseOp } from '../contract/op-schema.js';
import type { Op } from '../certificate/types.js';
import { MAX_CERTIFICATE_BYTES } from '../certificate/verify.js';
import { sign } from '../cli/cert.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { Denial } from '../reasons.js';

/** SPEC §6: the issuer re-signs well before `max_age`, so one missed tick never makes it stale. */
export const AUTHORITY_MAX_AGE = 30;
export const AUTHORITY_REFRESH_MS = 10_000;
const DEFAULT_TTL = 300;
/** The epochs never move in the sandbox; certificates carry the same ones. */
const POLICY_EPOCH = 1;
const REVOCATION_EPOCH = 0;
/** 32 ops of a few hundred bytes each fit easily; anything larger is not a request for ops. */
const MAX_REQUEST_BYTES = 256 * 1024;
const MAX_OPS = 32;
/** The broker's own jti shape (certificate/verify.ts). */
const JTI = /^[A-Za-z0-9._:-]{1,128}$/;
const CERT_FIELDS: ReadonlySet<string> = new Set(['ops', 'sub', 'identity', 'ttl']);

export interface IssuerOptions {
  /** `iss` of certificates and authority states. */
  readonly iss: string;
  /** `aud` of certificates: the broker's audience. */
  readonly audience: string;
  /** Where the signed authority state is written (the broker's `authority.file`). */
  readonly authorityFile: string;
  /** The broker's `trust.max_validity`: the largest `ttl` a certificate may ask for. */
  readonly maxTtl: number;
  /** The broker's executor names; a certificate naming another one is refused here already. */
  readonly identities: readonly string[];
  readonly defaultSub: string;
  readonly defaultIdentity: string;
  /** Loopback port; 0 picks a free one. */
  readonly port?: number;
  readonly log: (line: string) => void;
}

export interface DevIssuer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly iss: string;
  /** The public half, as the broker's `trust.issuers[].jwks` file holds it. */
  readonly jwks: { readonly keys: readonly JWK[] };
  close(): Promise<void>;
}

/** A refusal of bad input: 400 with this one line. */
class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export async function startIssuer(o: IssuerOptions): Promise<DevIssuer> {
  const signer = freshKey();
  const publicKey = createPublicKey(signer.key);
  const revoked = new Map<string, number>();
  let seq = 0;
  let publishing: Promise<number> = Promise.resolve(0);

  /**
   * Signs the next state and replaces the file atomically (write, then rename), so the broker's
   * watcher never reads half a state. Publications are chained: two in flight must reach the file
   * in seq order, or the broker would refuse the later-written lower seq as a rollback.
   */
  function publish(): Promise<number> {
    const next = publishing.then(async () => {
      const now = Math.floor(Date.now() / 1000);
      // No certificate from this issuer outlives maxTtl; an older revocation protects nothing,
      // and the broker keeps a seen jti revoked for max_validity + skew anyway (SPEC §6).
      for (const [jti, at] of revoked) if (now - at > o.maxTtl) revoked.delete(jti);
      seq += 1;
      const claims = {
        iss: o.iss, seq, iat: now, max_age: AUTHORITY_MAX_AGE,
        policy_epoch: POLICY_EPOCH, revocation_epoch: REVOCATION_EPOCH,
        revoked: { jti: [...revoked.keys()], sub: [] },
      };
      const tmp = `${o.authorityFile}.${process.pid}.tmp`;
      await writeFile(tmp, `${await sign(claims, AUTHORITY_TYP, signer)}\n`);
      await rename(tmp, o.authorityFile);
      return seq;
    });
    // A failed write is logged; the chain goes on so the next tick can still succeed.
    publishing = next.catch((err: unknown) => {
      o.log(`seb dev issuer: cannot write ${o.authorityFile}: ${(err as Error).message}`);
      return seq;
    });
    return next;
  }

  async function certificate(body: unknown): Promise<{ jws: string; jti: string }> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the body must be a JSON object {"ops": [...]}');
    const fields = body as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      if (!CERT_FIELDS.has(key)) throw new BadRequest(`unknown field ${JSON.stringify(key)} (allowed: ops, sub, identity, ttl)`);
    }
    const list = fields['ops'];
    if (!Array.isArray(list) || list.length === 0) throw new BadRequest('ops: must be a non-empty array of ops');
    if (list.length > MAX_OPS) throw new BadRequest(`ops: at most ${MAX_OPS}`);
    const ops: Op[] = [];
    list.forEach((op: unknown, i) => {
      try {
        ops.push(parseOp(completeOp(op), `ops[${i}]`, ops));
      } catch (err) {
        if (err instanceof Denial) throw new BadRequest(err.detail ?? `ops[${i}]: invalid`);
        throw err;
      }
    });
    const sub = fields['sub'] ?? o.defaultSub;
    if (typeof sub !== 'string' || sub === '') throw new BadRequest('sub: must be a non-empty string');
    const identity = fields['identity'] ?? o.defaultIdentity;
    if (typeof identity !== 'string' || !o.identities.includes(identity)) {
      throw new BadRequest(`identity: must be one of ${o.identities.join(', ')}`);
    }
    const ttl = fields['ttl'] ?? DEFAULT_TTL;
    if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1 || ttl > o.maxTtl) {
      throw new BadRequest(`ttl: must be an integer of seconds from 1 to ${o.maxTtl}`);
    }
    const jti = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: o.iss, sub, aud: o.audience, jti, iat: now, nbf: now, exp: now + ttl,
      policy_epoch: POLICY_EPOCH, revocation_epoch: REVOCATION_EPOCH, execution_identity: identity,
      contract: { id: jti, evidence: '', ops },
    };
    const jws = await sign(claims, CERT_TYP, signer);
    if (jws.length > MAX_CERTIFICATE_BYTES) throw new BadRequest(`the certificate would exceed ${MAX_CERTIFICATE_BYTES} bytes; certify fewer ops`);
    o.log(`seb dev issuer: issued ${jti} to ${sub} as ${identity} for ${ops.length} op(s), valid ${ttl} s`);
    return { jws, jti };
  }

  /**
   * By `jti`, or by the certificate itself (what the agent holds; the printed curl line sends
   * "$CERT"), whose jti is read only after its signature verifies under this issuer's key.
   */
  async function revoke(body: unknown): Promise<{ jti: string; seq: number }> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the body must be a JSON object {"jti": "..."} or {"certificate": "..."}');
    const fields = body as Record<string, unknown>;
    const extra = Object.keys(fields).find((k) => k !== 'jti' && k !== 'certificate');
    if (extra !== undefined) throw new BadRequest(`unknown field ${JSON.stringify(extra)} (allowed: jti or certificate)`);
    if (('jti' in fields) === ('certificate' in fields)) throw new BadRequest('give exactly one of jti and certificate');
    const jti = 'jti' in fields ? fields['jti'] : await jtiOf(fields['certificate']);
    if (typeof jti !== 'string' || !JTI.test(jti)) throw new BadRequest('jti: must be 1-128 characters of [A-Za-z0-9._:-]');
    if (!revoked.has(jti)) revoked.set(jti, Math.floor(Date.now() / 1000));
    const published = await publish();
    o.log(`seb dev issuer: revoked ${jti} (authority seq ${published})`);
    return { jti, seq: published };
  }

  async function jtiOf(certificate: unknown): Promise<unknown> {
    if (typeof certificate !== 'string' || certificate.length > MAX_CERTIFICATE_BYTES) throw new BadRequest('certificate: must be a compact JWS');
    let payload: Uint8Array;
    try {
      ({ payload } = await compactVerify(certificate.trim(), publicKey, { algorithms: [signer.alg] }));
    } catch {
      throw new BadRequest('certificate: not a certificate this issuer signed');
    }
    try {
      return (parseStrictJson(Buffer.from(payload)) as { jti?: unknown } | null)?.jti;
    } catch {
      throw new BadRequest('certificate: its claims are not strict JSON');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/certificates' && path !== '/revoke') throw new BadRequest('not found: POST /certificates or POST /revoke', 404);
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new BadRequest(`${path} takes POST`, 405);
    }
    const body = await readJson(req);
    if (path === '/certificates') {
      const { jws, jti } = await certificate(body);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-seb-jti': jti });
      res.end(`${jws}\n`);
    } else {
      const out = await revoke(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(out)}\n`);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const known = err instanceof BadRequest;
      if (!known) o.log(`seb dev issuer: ${(err as Error).stack ?? String(err)}`);
      if (res.headersSent) return void res.destroy();
      res.writeHead(known ? err.status : 500, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(`${known ? oneLine(err.message) : 'internal error (see the seb dev log)'}\n`);
    });
  });

  // The broker reads the authority file at start, so the first state is there before it is.
  await publish();
  const timer = setInterval(() => void publish().catch(() => undefined), AUTHORITY_REFRESH_MS);
  const address = await new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  }).catch((err: unknown) => {
    clearInterval(timer);
    throw err;
  });

  return {
    url: `http://127.0.0.1:${address.port}`,
    iss: o.iss,
    jwks: { keys: [signer.publicJwk] },
    async close() {
      clearInterval(timer);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await publishing;
    },
  };
}

function freshKey(): PrivateSigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return privateKeyFromJwk({ ...jwk, kid: `seb-dev-issuer-${randomUUID().slice(0, 8)}`, alg: 'EdDSA' }, 'seb dev issuer key');
}

/** The body as strict JSON (duplicate keys refused, as everywhere the broker reads JSON). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw new BadRequest(`the body exceeds ${MAX_REQUEST_BYTES} bytes`, 413);
    chunks.push(chunk);
  }
  try {
    return parseStrictJson(Buffer.concat(chunks));
  } catch (err) {
    if (err instanceof Denial) throw new BadRequest(`the body is not strict JSON: ${err.detail ?? 'unparseable'}`);
    throw err;
  }
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
