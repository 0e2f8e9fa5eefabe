import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { readState } from '../records/state-file.js';
import type { StreamPointer } from '../records/types.js';
import { verifyRecords, type VerifyReport } from '../records/verify.js';
import { UsageError, type Command } from './command.js';

/**
 * `seb records verify --key FILE [--allow-copies] [--out-of-scope STREAM]... [--state FILE] [FILE|-]`
 * (SPEC §9): exit 0 and a summary only when every chain and link is intact and a signature covers
 * every record; otherwise 1 naming the first broken (or uncovered) record.
 */
export const command: Command = {
  path: ['records', 'verify'],
  summary: 'check the signatures and hash chains of broker records',
  usage: '--key FILE [--allow-copies] [--out-of-scope STREAM]... [--state FILE] [FILE|-]',
  flags: [
    { name: 'key', type: 'string', required: true, value: 'FILE', help: "the broker's public record-signing JWKS (GET /keys, public.jwks.json)" },
    {
      name: 'allow-copies',
      type: 'boolean',
      help: 'skip exact copies of records already verified, as an at-least-once pipeline (Fluent Bit retrying a chunk whose ack was lost) delivers them; any other second record is still inserted',
    },
    {
      name: 'out-of-scope',
      type: 'string',
      repeat: true,
      value: 'STREAM',
      help: 'a stream verified elsewhere (an earlier log file): a start record may name it as its previous stream; any other previous stream missing from the input fails',
    },
    {
      name: 'state',
      type: 'string',
      value: 'FILE',
      help: "the broker's records.state_file: the input must hold the record it names, so a cut of the newest stream's tail fails too",
    },
  ],
  positionals: { min: 0, max: 1, help: 'records file (bare records or container-log lines); - or none for stdin' },
  async run(args, io) {
    const keyFile = args.flags.key;
    if (typeof keyFile !== 'string' || keyFile === '') throw new UsageError(['--key: give the file holding the broker public JWKS']);
    const jwks = await readKeys(keyFile);
    const state = typeof args.flags.state === 'string' ? await readStateFlag(args.flags.state) : undefined;
    const outOfScope = args.flags['out-of-scope'] as string[];
    const input = args.positionals[0] ?? '-';
    const source = input === '-' ? io.stdin : createReadStream(input);
    if (input !== '-') await waitOpen(source, input);
    const lines = createInterface({ input: source, crlfDelay: Infinity });
    let report: VerifyReport;
    try {
      report = await verifyRecords(lines, { keys: jwks, allowCopies: args.flags['allow-copies'] === true, outOfScope, ...(state ? { state } : {}) });
    } catch (err) {
      if (err instanceof TypeError) throw new UsageError([`--key: ${err.message}`]);
      throw err;
    } finally {
      lines.close();
    }
    if (report.ok) {
      const ended = report.streams.filter((s) => s.ended).length;
      const links = (kind: string): number => report.streams.filter((s) => s.link === kind).length;
      io.stdout.write(
        `ok: ${report.records} records in ${report.streams.length} streams (${ended} ended), ` +
          `${links('checked')} linked to the stream before, ${links('out-of-scope')} to one out of scope, ` +
          (state ? 'the state file\'s record present, ' : '') +
          'every record covered by a signature' +
          (report.copies > 0 ? `, ${report.copies} exact copies skipped` : '') +
          '\n',
      );
      return 0;
    }
    const where = report.stream === null ? '' : ` stream ${report.stream}` + (report.seq === null ? '' : ` seq ${report.seq}`);
    io.stdout.write(`broken: line ${report.line}${where}: ${report.problem}: ${report.message}\n`);
    return 1;
  },
};

async function readKeys(path: string): Promise<unknown[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UsageError([`--key: cannot read ${path} as JSON (${(err as Error).message})`]);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new UsageError([`--key: ${path} is not a JWKS ({"keys": [...]})`]);
  return keys;
}

async function readStateFlag(path: string): Promise<StreamPointer> {
  let pointer: StreamPointer | null;
  try {
    pointer = await readState(path);
  } catch (err) {
    throw new UsageError([`--state: ${(err as Error).message}`]);
  }
  if (pointer === null) throw new UsageError([`--state: ${path} does not exist`]);
  return pointer;
}

/** A missing or unreadable input file is a usage problem (exit 2), not a broken record. */
function waitOpen(stream: NodeJS.ReadableStream, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err: Error) => reject(new UsageError([`cannot read ${path}: ${err.message}`])));
  });
}
