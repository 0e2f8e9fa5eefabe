/**
 * `seb digest [--jcs] [--volatile LOCATION=KIND]... [--bind LOCATION]... FILE|-` (SPEC §9): the hex
 * digest a body binding pins (SPEC §2.1), computed exactly as the broker computes it: raw bytes for
 * `sha256`, or the JCS form of the strictly parsed JSON for `jcs_sha256`; with run-time values
 * (SPEC §2.2), over the body with each named location replaced by its kind's marker.
 */
import { readFile } from 'node:fs/promises';
import { sha256Hex } from '../lib/digest.js';
import { canonicalJson } from '../lib/jcs.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { Denial } from '../reasons.js';
import type { RunTimeFields, VolatileKind } from '../certificate/types.js';
import { inBody, parseLocation } from '../contract/locations.js';
import { entriesOf, markedBody } from '../contract/run-time-values.js';
import type { CliIO, Command } from './command.js';
import { UsageError } from './command.js';

const KINDS: readonly string[] = ['timestamp', 'idempotency_token'];

export const command: Command = {
  path: ['digest'],
  summary: 'print the body digest a certificate op would pin',
  usage: '[--jcs] [--volatile LOCATION=KIND]... [--bind LOCATION]... FILE|-',
  flags: [
    { name: 'jcs', type: 'boolean', help: 'digest the RFC 8785 (JCS) form of a JSON body (for jcs_sha256)' },
    { name: 'volatile', type: 'string', repeat: true, value: 'LOCATION=KIND', help: 'a run-time value in the body (docs/run-time-values.md)' },
    { name: 'bind', type: 'string', repeat: true, value: 'LOCATION', help: 'a bound value in the body (docs/run-time-values.md)' },
  ],
  positionals: { min: 1, max: 1, help: 'FILE, or - for standard input' },
  async run(args, io) {
    const source = args.positionals[0]!;
    const fields = runTimeFlags((args.flags['volatile'] as string[] | undefined) ?? [], (args.flags['bind'] as string[] | undefined) ?? [], args.flags['jcs'] === true);
    let bytes: Buffer;
    try {
      bytes = await readFileOrStdin(source, io);
    } catch (err) {
      io.stderr.write(`seb digest: ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 1;
    }
    try {
      const digest = fields !== null ? markedBody(entriesOf(fields), bytes, []) : args.flags['jcs'] === true ? sha256Hex(canonicalJson(parseStrictJson(bytes))) : sha256Hex(bytes);
      if (digest === null) {
        io.stderr.write(`seb digest: ${source}: a named location is not in the body exactly once\n`);
        return 1;
      }
      io.stdout.write(`${digest}\n`);
      return 0;
    } catch (err) {
      // The broker would answer unparseable_request for this body: no jcs_sha256 can match it.
      const detail = err instanceof Denial ? (err.detail ?? err.code) : (err as Error).message;
      io.stderr.write(`seb digest: ${source}: not strict I-JSON: ${detail}\n`);
      return 1;
    }
  },
};

/** The run-time fields the flags name, or null for none; JSON pointers go with --jcs, the rest without. */
function runTimeFlags(volatile: readonly string[], bind: readonly string[], jcs: boolean): RunTimeFields | null {
  if (volatile.length === 0 && bind.length === 0) return null;
  const problems: string[] = [];
  const check = (at: string, flag: string): void => {
    const place = parseLocation(at);
    if (place === null || !inBody(place)) problems.push(`${flag}: ${at} is not a body location`);
    else if ((place.in === 'json') !== jcs) problems.push(`${flag}: ${at} ${jcs ? 'is not a JSON pointer (--jcs)' : 'is a JSON pointer: add --jcs'}`);
  };
  const v = volatile.map((item) => {
    const eq = item.lastIndexOf('=');
    const at = item.slice(0, eq);
    const kind = item.slice(eq + 1);
    if (eq < 0 || !KINDS.includes(kind)) problems.push(`--volatile: ${item}: must be LOCATION=${KINDS.join('|')}`);
    else check(at, '--volatile');
    return { at, kind: kind as VolatileKind };
  });
  for (const at of bind) check(at, '--bind');
  if (problems.length) throw new UsageError(problems);
  // The source of a binding does not change the marker, so any stands in for it here.
  return { volatile: v, bind: bind.map((at) => ({ at, from: { op: 0, value: 'header:etag' } })) };
}

/** The bytes of FILE, or of standard input for `-`. */
export async function readFileOrStdin(source: string, io: CliIO): Promise<Buffer> {
  if (source !== '-') return readFile(source);
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
