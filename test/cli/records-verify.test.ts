import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { command } from '../../src/cli/records-verify.js';
import { UsageError, type ParsedArgs } from '../../src/cli/command.js';
import { RecordWriter } from '../../src/records/writer.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

async function records(): Promise<string[]> {
  const lines: string[] = [];
  const w = await RecordWriter.open({
    brokerId: 'seb-test',
    key: { kid: 'k1', privateKey },
    sink: { write: async (l) => void lines.push(l), close: async () => undefined },
    sign: 'every',
    stateFile: null,
  });
  await w.outcome({ decision_seq: 0, status: 200, upstream_request_id: null, bytes_in: 0, bytes_out: 0, duration_ms: 1, error: null });
  await w.close();
  return lines;
}

async function run(flags: ParsedArgs['flags'], positionals: string[], stdinText = ''): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const stdin = new PassThrough();
  stdin.end(stdinText);
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const args: ParsedArgs = { flags, positionals, rest: [] };
  const code = await command.run(args, { stdout, stderr: new PassThrough(), stdin, env: {} });
  return { code, out };
}

t.test('seb records verify', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'seb-verify-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const key = join(dir, 'public.jwks.json');
  await writeFile(key, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] }));
  const lines = await records();
  const good = join(dir, 'good.log');
  await writeFile(good, lines.join('\n') + '\n');
  const bad = join(dir, 'bad.log');
  await writeFile(bad, [lines[0], lines[2]].join('\n') + '\n');

  t.same(command.path, ['records', 'verify']);

  const fromFile = await run({ key }, [good]);
  t.equal(fromFile.code, 0);
  t.equal(fromFile.out, 'ok: 3 records in 1 streams (1 ended), 0 linked to the stream before, 0 to one out of scope, every record covered by a signature\n');

  const fromStdin = await run({ key }, ['-'], lines.join('\n'));
  t.equal(fromStdin.code, 0, 'stdin with -');
  t.equal((await run({ key }, [], lines.join('\n'))).code, 0, 'stdin by default');

  const broken = await run({ key }, [bad]);
  t.equal(broken.code, 1);
  const stream = (JSON.parse(lines[0] as string) as { stream: string }).stream;
  t.equal(broken.out, `broken: line 2 stream ${stream} seq 2: deleted: records 1..1 are missing\n`);

  const resent = join(dir, 'resent.log');
  await writeFile(resent, [lines[0], lines[1], lines[1], lines[2]].join('\n') + '\n');
  t.equal((await run({ key }, [resent])).code, 1, 'a copy is inserted by default');
  const lenient = await run({ key, 'allow-copies': true }, [resent]);
  t.equal(lenient.code, 0, '--allow-copies');
  t.match(lenient.out, /^ok: 3 records in 1 streams \(1 ended\), .*every record covered by a signature, 1 exact copies skipped\n$/);

  const usage: [string, Record<string, string>, string[]][] = [
    ['no --key', {}, [good]],
    ['missing key file', { key: join(dir, 'nope.json') }, [good]],
    ['key file not JSON', { key: good }, [good]],
    ['key file not a JWKS', { key: bad }, [good]],
    ['missing input file', { key }, [join(dir, 'nope.log')]],
  ];
  await writeFile(join(dir, 'jwks-empty.json'), '{"keys":[]}');
  usage.push(['JWKS without usable keys', { key: join(dir, 'jwks-empty.json') }, [good]]);
  for (const [name, flags, pos] of usage) await t.rejects(run(flags, pos), UsageError, name);
});
