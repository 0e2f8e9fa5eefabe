/**
 * `seb keys generate` (SPEC §9): a signing key pair for a development issuer or for the broker's
 * records. The private JWK is written owner-only and never over an existing file, so a second run
 * cannot silently replace a key that certificates or records already depend on.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { privateKeyFromJwk } from '../certificate/keys.js';
import { UsageError, type Command } from './command.js';

export const command: Command = {
  path: ['keys', 'generate'],
  summary: 'write a new signing key: private.jwk.json and public.jwks.json',
  usage: '--out DIR [--alg EdDSA|ES256] [--kid ID]',
  flags: [
    { name: 'out', type: 'string', required: true, value: 'DIR', help: 'directory to write the key files into (created if missing)' },
    { name: 'alg', type: 'string', value: 'EdDSA|ES256', help: 'signature algorithm (default EdDSA)' },
    { name: 'kid', type: 'string', value: 'ID', help: 'key id (default: the RFC 7638 thumbprint of the public key)' },
  ],
  async run(args, io) {
    const out = args.flags['out'];
    const alg = args.flags['alg'] ?? 'EdDSA';
    const kidFlag = args.flags['kid'];
    const problems: string[] = [];
    if (typeof out !== 'string' || out === '') problems.push('--out: a directory is required');
    if (alg !== 'EdDSA' && alg !== 'ES256') problems.push('--alg: must be EdDSA or ES256');
    if (kidFlag !== undefined && (typeof kidFlag !== 'string' || kidFlag === '')) problems.push('--kid: must be a non-empty string');
    if (problems.length > 0) throw new UsageError(problems);
    const dir = out as string;

    const { privateKey } =
      alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' }) as JWK;
    const kid = typeof kidFlag === 'string' ? kidFlag : await thumbprint(privateKey);
    // Round-trip through the loader, so what is written is exactly what `--key` will accept.
    const loaded = privateKeyFromJwk({ ...jwk, kid, alg }, 'generated key');

    const privatePath = join(dir, 'private.jwk.json');
    const publicPath = join(dir, 'public.jwks.json');
    for (const path of [privatePath, publicPath]) {
      if (existsSync(path)) {
        io.stderr.write(`seb keys generate: ${path} already exists; not overwriting a key\n`);
        return 1;
      }
    }
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(privatePath, `${JSON.stringify({ ...jwk, kid, alg }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      await writeFile(publicPath, `${JSON.stringify({ keys: [loaded.publicJwk] }, null, 2)}\n`, { mode: 0o644, flag: 'wx' });
    } catch (err) {
      io.stderr.write(`seb keys generate: ${(err as Error).message}\n`);
      return 1;
    }
    io.stdout.write(`wrote ${privatePath} and ${publicPath} (kid ${kid}, ${alg})\n`);
    return 0;
  },
};

async function thumbprint(privateKey: KeyObject): Promise<string> {
  const { kty, crv, x, y } = privateKey.export({ format: 'jwk' });
  return calculateJwkThumbprint({ kty, crv, x, ...(y === undefined ? {} : { y }) } as JWK);
}
