/**
 * `seb digest [--jcs] FILE|-` (SPEC §9): the hex digest a body binding pins (SPEC §2.1), computed
 * exactly as the broker computes it: raw bytes for `sha256`, or the JCS form of the strictly parsed
 * JSON for `jcs_sha256`.
 */
import { readFile } from 'node:fs/promises';
import { sha256Hex } from '../lib/digest.js';
import { canonicalJson } from '../lib/jcs.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { Denial } from '../reasons.js';
import type { CliIO, Command } from './command.js';

export const command: Command = {
  path: ['digest'],
  summary: 'print the body digest a certificate op would pin',
  usage: '[--jcs] FILE|-',
  flags: [{ name: 'jcs', type: 'boolean', help: 'digest the RFC 8785 (JCS) form of a JSON body (for jcs_sha256)' }],
  positionals: { min: 1, max: 1, help: 'FILE, or - for standard input' },
  async run(args, io) {
    const source = args.positionals[0]!;
    let bytes: Buffer;
    try {
      bytes = await readFileOrStdin(source, io);
    } catch (err) {
      io.stderr.write(`seb digest: ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 1;
    }
    if (args.flags['jcs'] !== true) {
      io.stdout.write(`${sha256Hex(bytes)}\n`);
      return 0;
    }
    try {
      io.stdout.write(`${sha256Hex(canonicalJson(parseStrictJson(bytes)))}\n`);
      return 0;
    } catch (err) {
      // The broker would answer unparseable_request for this body: no jcs_sha256 can match it.
      const detail = err instanceof Denial ? (err.detail ?? err.code) : (err as Error).message;
      io.stderr.write(`seb digest: ${source}: not strict I-JSON: ${detail}\n`);
      return 1;
    }
  },
};

/** The bytes of FILE, or of standard input for `-`. */
export async function readFileOrStdin(source: string, io: CliIO): Promise<Buffer> {
  if (source !== '-') return readFile(source);
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
