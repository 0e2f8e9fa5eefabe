/**
 * `seb cert issue` and `seb cert inspect` (SPEC §9). `issue` is a development issuer: it signs
 * exactly what it is told (even an already expired certificate, for tests), but every op goes
 * through the broker's own schema first, so it never prints a certificate the broker would call
 * malformed for its ops. `inspect` runs the broker's own verifier and authority checks and names
 * the first reason that would deny.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CompactSign } from 'jose';
import { Authority } from '../authority/state.js';
import { CERT_TYP } from '../certificate/carrier.js';
import { loadPrivateJwk, type PrivateSigningKey } from '../certificate/keys.js';
import { completeOp, parseOp } from '../contract/op-schema.js';
import { runTimeSummary } from './run-time-summary.js';
import { TrustStore } from '../certificate/trust.js';
import type { Certificate, Op } from '../certificate/types.js';
import { CertificateVerifier } from '../certificate/verify.js';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/types.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { Denial } from '../reasons.js';
import { UsageError, type CliIO, type Command, type FlagValue } from './command.js';
import { readFileOrStdin } from './digest.js';

const DEFAULT_TTL = 300;
const JTI = /^[A-Za-z0-9._:-]{1,128}$/;

const issue: Command = {
  path: ['cert', 'issue'],
  summary: 'sign a certificate (development issuer) and print the compact JWS',
  usage:
    '--key FILE --iss ISS --aud AUD --sub SUB --identity NAME --op JSON [--op JSON ...] [--ttl SECONDS] ' +
    '[--policy-epoch N] [--revocation-epoch N] [--jti ID] [--nbf T] [--contract-id ID]',
  flags: [
    { name: 'key', type: 'string', required: true, value: 'FILE', help: 'private JWK of the issuer' },
    { name: 'iss', type: 'string', required: true, value: 'ISS', help: 'issuer id' },
    { name: 'aud', type: 'string', required: true, value: 'AUD', help: 'the broker\'s audience' },
    { name: 'sub', type: 'string', required: true, value: 'SUB', help: 'the agent principal' },
    { name: 'identity', type: 'string', required: true, value: 'NAME', help: 'execution_identity: an executor profile' },
    { name: 'op', type: 'string', repeat: true, required: true, value: 'JSON', help: 'one op; empty fields may be left out' },
    { name: 'ttl', type: 'number', value: 'SECONDS', help: `exp = nbf + ttl (default ${DEFAULT_TTL})` },
    { name: 'policy-epoch', type: 'number', value: 'N', help: 'policy epoch (default 0)' },
    { name: 'revocation-epoch', type: 'number', value: 'N', help: 'revocation epoch (default 0)' },
    { name: 'jti', type: 'string', value: 'ID', help: 'certificate id (default: a fresh random id)' },
    { name: 'nbf', type: 'number', value: 'T', help: 'not-before, seconds since the epoch (default now)' },
    { name: 'contract-id', type: 'string', value: 'ID', help: 'contract.id (default: the jti)' },
  ],
  async run(args, io) {
    const problems: string[] = [];
    const f = args.flags;
    const keyPath = flagString(f['key'], '--key', problems);
    const iss = flagString(f['iss'], '--iss', problems);
    const aud = flagString(f['aud'], '--aud', problems);
    const sub = flagString(f['sub'], '--sub', problems);
    const identity = flagString(f['identity'], '--identity', problems);
    const now = Math.floor(Date.now() / 1000);
    const ttl = flagInteger(f['ttl'] ?? DEFAULT_TTL, '--ttl', 0, problems);
    const policyEpoch = flagInteger(f['policy-epoch'] ?? 0, '--policy-epoch', 0, problems);
    const revocationEpoch = flagInteger(f['revocation-epoch'] ?? 0, '--revocation-epoch', 0, problems);
    const nbf = flagInteger(f['nbf'] ?? now, '--nbf', 0, problems);
    const jti = f['jti'] ?? randomUUID();
    if (typeof jti !== 'string' || !JTI.test(jti)) problems.push('--jti: must be 1-128 characters of [A-Za-z0-9._:-]');
    const contractId = f['contract-id'] ?? jti;
    if (typeof contractId !== 'string' || contractId === '') problems.push('--contract-id: must be a non-empty string');
    const ops = parseOps(f['op'], problems);
    if (problems.length > 0) throw new UsageError(problems);

    const signer = await signerFrom(keyPath);
    const claims = {
      iss, sub, aud, jti, iat: now, nbf, exp: nbf + ttl,
      policy_epoch: policyEpoch, revocation_epoch: revocationEpoch, execution_identity: identity,
      contract: { id: contractId, evidence: '', ops },
    };
    io.stdout.write(`${await sign(claims, CERT_TYP, signer)}\n`);
    return 0;
  },
};

const inspect: Command = {
  path: ['cert', 'inspect'],
  summary: 'decode a certificate; with --config, verify it as the broker would and explain the verdict',
  usage: '[--config FILE] JWS|-',
  flags: [{ name: 'config', type: 'string', value: 'FILE', help: 'broker config to verify against' }],
  positionals: { min: 1, max: 1, help: 'the compact JWS, or - to read it from standard input' },
  async run(args, io) {
    const source = args.positionals[0]!;
    const jws = source === '-' ? (await readFileOrStdin('-', io)).toString('utf8').trim() : source;
    const decoded = decodeUnverified(jws);
    if (decoded === null) {
      io.stderr.write('seb cert inspect: not a compact JWS with JSON header and payload\n');
      return 1;
    }
    io.stdout.write(`header: ${JSON.stringify(decoded.header, null, 2)}\nclaims: ${JSON.stringify(decoded.claims, null, 2)}\n`);
    for (const line of runTimeSummary(decoded.claims)) io.stdout.write(`${line}\n`);
    const configPath = args.flags['config'];
    if (configPath === undefined) return 0;
    if (typeof configPath !== 'string') throw new UsageError(['--config: must be a file path']);
    return explain(jws, await loadConfigFile(configPath), io);
  },
};

export const commands: Command[] = [issue, inspect];

/** Runs the broker's certificate and authority stages (SPEC §4 order) and prints the first failure. */
async function explain(jws: string, config: Config, io: CliIO): Promise<number> {
  const { trust: trustConfig, authority: authorityConfig, broker } = config;
  let trust: TrustStore;
  try {
    trust = await TrustStore.load(trustConfig.issuers);
  } catch (err) {
    throw new UsageError([(err as Error).message]);
  }
  const verifier = new CertificateVerifier({
    trust, audience: broker.audience, principals: broker.principals,
    maxValidity: trustConfig.max_validity, skew: trustConfig.clock_skew,
  });
  const authority = new Authority({
    trust, iss: authorityConfig.iss, maxAgeCap: authorityConfig.max_age_cap,
    skew: trustConfig.clock_skew, maxValidity: trustConfig.max_validity,
  });
  const source = authorityConfig.source;
  let authorityChecked = false;
  if ('file' in source) {
    authorityChecked = true;
    try {
      const result = await authority.offer((await readFile(source.file, 'utf8')).trim());
      if (!result.accepted) io.stdout.write(`authority: ${source.file} refused: ${result.reason}\n`);
    } catch (err) {
      io.stdout.write(`authority: ${source.file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    }
  } else {
    io.stdout.write('authority: not checked (the configured source is not a file)\n');
  }
  try {
    const cert: Certificate = await verifier.verify(jws);
    if (authorityChecked) authority.check(cert);
    if (!Object.hasOwn(config.executors, cert.execution_identity)) {
      throw new Denial('unknown_execution_identity', `no executor named ${cert.execution_identity}`);
    }
  } catch (err) {
    if (!(err instanceof Denial)) throw err;
    io.stdout.write(`verdict: ${err.code}${err.detail ? ` (${err.detail})` : ''}\n`);
    return 1;
  }
  io.stdout.write('verdict: valid\n');
  return 0;
}

/** Header and claims of a JWS, without any verification; null when they are not JSON. */
function decodeUnverified(jws: string): { header: unknown; claims: unknown } | null {
  const parts = jws.split('.');
  if (parts.length !== 3) return null;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')),
      claims: JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')),
    };
  } catch {
    return null;
  }
}

function parseOps(value: FlagValue | undefined, problems: string[]): Op[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (list.length === 0) problems.push('--op: at least one op is required');
  const ops: Op[] = [];
  list.forEach((text, i) => {
    const at = `--op[${i}]`;
    try {
      if (typeof text !== 'string') throw new Denial('malformed_certificate', `${at}: must be JSON text`);
      let parsed: unknown;
      try {
        parsed = parseStrictJson(text);
      } catch (err) {
        throw new Denial('malformed_certificate', `${at}: not strict JSON${err instanceof Denial && err.detail ? `: ${err.detail}` : ''}`);
      }
      ops.push(parseOp(completeOp(parsed), at, ops));
    } catch (err) {
      if (!(err instanceof Denial)) throw err;
      problems.push(err.detail ?? `${at}: invalid`);
    }
  });
  if (ops.length > 32) problems.push('--op: at most 32 ops');
  return ops;
}

/** Loads `--key`; a bad key file is a usage problem (exit 2) naming the file. */
export async function signerFrom(path: string): Promise<PrivateSigningKey> {
  try {
    return await loadPrivateJwk(path);
  } catch (err) {
    throw new UsageError([`--key: ${(err as Error).message}`]);
  }
}

/** A compact JWS over the JSON claims, with the protected header SPEC §2 / §6 require. */
export function sign(claims: object, typ: string, signer: PrivateSigningKey): Promise<string> {
  return new CompactSign(Buffer.from(JSON.stringify(claims)))
    .setProtectedHeader({ alg: signer.alg, typ, kid: signer.kid })
    .sign(signer.key);
}

export function flagString(value: FlagValue | undefined, flag: string, problems: string[]): string {
  if (typeof value !== 'string' || value === '') {
    problems.push(`${flag}: required`);
    return '';
  }
  return value;
}

/** Numbers arrive parsed from the arg parser; a digit string is accepted too. */
export function flagInteger(value: FlagValue | undefined, flag: string, min: number, problems: string[]): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) {
    problems.push(`${flag}: must be an integer >= ${min}`);
    return 0;
  }
  return n;
}

export function flagList(value: FlagValue | undefined, flag: string, problems: string[]): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((item): item is string => typeof item === 'string' && item !== '')) {
    problems.push(`${flag}: must be non-empty strings`);
    return [];
  }
  return list;
}
