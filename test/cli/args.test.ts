import t from 'tap';
import { parseArgs } from '../../src/cli/args.js';
import { UsageError, type Command } from '../../src/cli/command.js';

const cmd: Command = {
  path: ['cert', 'issue'],
  summary: 'sign a certificate',
  usage: '--key FILE --op JSON [--op JSON ...]',
  flags: [
    { name: 'key', type: 'string', required: true, value: 'FILE', help: 'issuer key' },
    { name: 'op', type: 'string', repeat: true, value: 'JSON', help: 'an op' },
    { name: 'ttl', type: 'number', value: 'SECONDS', help: 'lifetime' },
    { name: 'epoch', type: 'number', repeat: true, help: 'numbers' },
    { name: 'jcs', type: 'boolean', help: 'canonical form' },
  ],
  positionals: { min: 0, max: 1, help: 'FILE|-' },
  run: async () => 0,
};

const withRest: Command = { ...cmd, path: ['op', 'capture'], acceptsRest: true };

function problems(c: Command, argv: string[]): readonly string[] {
  try {
    parseArgs(c, argv);
  } catch (err) {
    if (err instanceof UsageError) return err.problems;
    throw err;
  }
  return [];
}

t.test('good command lines', async (t) => {
  t.same(parseArgs(cmd, ['--key', 'k.json', '--op={"a":1}', '--op', '-', '--ttl=60', '--jcs', '-']), {
    flags: { key: 'k.json', op: ['{"a":1}', '-'], ttl: 60, epoch: [], jcs: true },
    positionals: ['-'],
    rest: [],
  });
  const bare = parseArgs(cmd, ['--key=k']);
  t.same(bare.flags, { key: 'k', op: [], ttl: undefined, epoch: [], jcs: false }, 'absent flags: [] / undefined / false');
  t.same(parseArgs(cmd, ['--key', 'k', '--epoch', '-3', '--epoch=0']).flags['epoch'], [-3, 0], 'repeatable numbers');
  t.same(parseArgs(withRest, ['--key', 'k', '--', 'aws', '--help', '-']), {
    flags: { key: 'k', op: [], ttl: undefined, epoch: [], jcs: false },
    positionals: [],
    rest: ['aws', '--help', '-'],
  }, 'everything after -- is rest, even flags');
});

const BAD: readonly (readonly [string, string[], readonly string[]])[] = [
  ['unknown flag', ['--key', 'k', '--nope'], ['unknown flag --nope']],
  ['unknown flag with a value', ['--key', 'k', '--nope=1'], ['unknown flag --nope']],
  ['short flag', ['--key', 'k', '-x'], ['unknown flag -x']],
  ['missing value at the end', ['--key'], ['--key needs a value (FILE)', '--key is required']],
  ['flag where a value should be', ['--key', '--jcs'], ['--key needs a value (FILE)', '--key is required']],
  ['empty value', ['--key='], ['--key needs a value (FILE)', '--key is required']],
  ['missing required flag', [], ['--key is required']],
  ['number with a unit', ['--key', 'k', '--ttl', '10s'], ['--ttl must be an integer, got "10s"']],
  ['number in exponent form', ['--key', 'k', '--ttl=1e3'], ['--ttl must be an integer, got "1e3"']],
  ['fractional number', ['--key', 'k', '--ttl', '1.5'], ['--ttl must be an integer, got "1.5"']],
  ['number beyond 2^53', ['--key', 'k', '--ttl', '9007199254740993'], ['--ttl must be an integer, got "9007199254740993"']],
  ['boolean with a value', ['--key', 'k', '--jcs=true'], ['--jcs takes no value']],
  ['repeated non-repeatable flag', ['--key', 'a', '--key', 'b'], ['--key given more than once']],
  ['too many positionals', ['--key', 'k', 'a', 'b'], ['expected at most 1 argument, got 2']],
  ['-- not accepted', ['--key', 'k', '--', 'x'], ['-- is not accepted by this command']],
];

t.test('bad command lines name each problem', async (t) => {
  for (const [name, argv, want] of BAD) t.same(problems(cmd, argv), want, name);
});

t.test('all problems are reported together', async (t) => {
  t.same(problems(cmd, ['--nope', '--ttl', 'x', '--jcs=1', 'a', 'b']), [
    'unknown flag --nope',
    '--ttl must be an integer, got "x"',
    '--jcs takes no value',
    '--key is required',
    'expected at most 1 argument, got 2',
  ]);
});

t.test('positional counts', async (t) => {
  const one: Command = { ...cmd, flags: [], positionals: { min: 1, max: 1, help: 'JWS|-' } };
  t.same(problems(one, []), ['expected at least 1 argument, got 0']);
  t.same(parseArgs(one, ['-']).positionals, ['-'], 'a lone - is stdin, a positional');
  const none: Command = { ...cmd, flags: [], positionals: undefined };
  t.same(problems(none, ['x']), ['unexpected argument "x"']);
});
