import t from 'tap';
import { PassThrough } from 'node:stream';
import { UsageError, type CliIO, type Command } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';

interface Captured {
  readonly io: CliIO;
  out(): string;
  err(): string;
}

function capture(env: NodeJS.ProcessEnv = {}): Captured {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on('data', (b: Buffer) => chunks.out.push(b));
  stderr.on('data', (b: Buffer) => chunks.err.push(b));
  return {
    io: { stdout, stderr, stdin: new PassThrough(), env },
    out: () => Buffer.concat(chunks.out).toString(),
    err: () => Buffer.concat(chunks.err).toString(),
  };
}

const calls: { path: string; flags: unknown; positionals: readonly string[] }[] = [];

function fake(path: string[], extra: Partial<Command> = {}): Command {
  return {
    path,
    summary: `does ${path.join(' ')}`,
    usage: '--key FILE',
    flags: [
      { name: 'key', type: 'string', value: 'FILE', required: true, help: 'the key file' },
      { name: 'ttl', type: 'number', value: 'SECONDS', help: 'lifetime' },
    ],
    positionals: { min: 0, max: 1, help: 'FILE|- the input' },
    run: async (args) => {
      calls.push({ path: path.join(' '), flags: args.flags, positionals: args.positionals });
      return 0;
    },
    ...extra,
  };
}

const registry: readonly Command[] = [
  fake(['cert', 'issue']),
  fake(['cert', 'inspect']),
  fake(['digest']),
  fake(['boom'], { run: async () => { throw new Error('disk on fire'); } }),
  fake(['usage'], { run: async () => { throw new UsageError(['first', 'second']); } }),
];

async function run(argv: string[], env?: NodeJS.ProcessEnv): Promise<{ status: number; out: string; err: string }> {
  const c = capture(env);
  const status = await main(argv, c.io, registry);
  return { status, out: c.out(), err: c.err() };
}

t.test('help exits 0 on stdout', async (t) => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const r = await run(argv);
    t.equal(r.status, 0, argv.join(' '));
    t.equal(r.err, '');
    t.match(r.out, /cert issue\s+does cert issue/);
    t.match(r.out, /digest\s+does digest/);
  }
  const group = await run(['cert', '--help']);
  t.equal(group.status, 0);
  t.match(group.out, /Usage: seb cert <command>/);
  t.match(group.out, /cert inspect/);
  t.notMatch(group.out, /digest/, 'a group lists only its own subcommands');
  const one = await run(['cert', 'issue', '--help']);
  t.equal(one.status, 0);
  t.match(one.out, /Usage: seb cert issue --key FILE/);
  t.match(one.out, /--key FILE\s+the key file \(required\)/);
  t.match(one.out, /--ttl SECONDS\s+lifetime/);
  t.same(await run(['help', 'cert', 'issue']), one, 'seb help CMD is seb CMD --help');
  t.equal(calls.length, 0, 'help runs nothing');
});

t.test('dispatch on the longest matching path, with parsed flags', async (t) => {
  calls.length = 0;
  t.equal((await run(['cert', 'inspect', '--key', 'k', 'jws'])).status, 0);
  t.equal((await run(['digest', '--key=k', '--ttl', '5', '-'])).status, 0);
  t.same(calls, [
    { path: 'cert inspect', flags: { key: 'k', ttl: undefined }, positionals: ['jws'] },
    { path: 'digest', flags: { key: 'k', ttl: 5 }, positionals: ['-'] },
  ]);
});

t.test('unknown commands exit 2 with the command list', async (t) => {
  for (const argv of [['nope'], ['cert', 'nope'], []]) {
    const r = await run(argv);
    t.equal(r.status, 2, JSON.stringify(argv));
    t.equal(r.out, '');
    t.match(r.err, /cert issue/);
  }
  t.match((await run(['nope'])).err, /^seb: unknown command "nope"\n/);
  t.match((await run(['cert'])).err, /^seb cert: missing subcommand\n/);
});

t.test('bad flags exit 2 naming the flag and the command', async (t) => {
  const r = await run(['cert', 'issue', '--key', 'k', '--nope', '--ttl', '10s']);
  t.equal(r.status, 2);
  t.equal(r.err, 'seb cert issue: unknown flag --nope\nseb cert issue: --ttl must be an integer, got "10s"\n');
  const missing = await run(['digest']);
  t.equal(missing.err, 'seb digest: --key is required\n');
});

t.test('a UsageError from a command exits 2, one line per problem', async (t) => {
  const r = await run(['usage', '--key', 'k']);
  t.equal(r.status, 2);
  t.equal(r.err, 'seb usage: first\nseb usage: second\n');
});

t.test('any other error exits 1 with its message, the stack only under SEB_DEBUG=1', async (t) => {
  const r = await run(['boom', '--key', 'k']);
  t.equal(r.status, 1);
  t.equal(r.err, 'seb boom: disk on fire\n');
  const debug = await run(['boom', '--key', 'k'], { SEB_DEBUG: '1' });
  t.equal(debug.status, 1);
  t.match(debug.err, /^seb boom: Error: disk on fire\n\s+at /);
});
