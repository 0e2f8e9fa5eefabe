/**
 * Flag and argument parsing for one command (SPEC §9). Pure: it reads only `argv` and the
 * command's declared flags, and reports every problem together as one UsageError (exit 2), one
 * line each, so the user fixes a command line in one round.
 */
import { UsageError, type Command, type FlagSpec, type FlagValue, type ParsedArgs } from './command.js';

/** Integers only: `10s` or `1e3` is a mistake to report, not a number to guess at. */
const INTEGER = /^-?(0|[1-9]\d*)$/;

/**
 * Parses `argv` (the words after the command path). `--flag value` and `--flag=value`; boolean
 * flags take no value. Absent flags: booleans are `false`, repeatable flags `[]`, others
 * `undefined`. A lone `-` is a positional (stdin); a bare `--` starts `rest`.
 */
export function parseArgs(command: Command, argv: readonly string[]): ParsedArgs {
  const specs = new Map<string, FlagSpec>(command.flags.map((f) => [f.name, f]));
  const problems: string[] = [];
  const values = new Map<string, (string | number | boolean)[]>();
  const positionals: string[] = [];
  let rest: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      if (command.acceptsRest) rest = argv.slice(i + 1);
      else problems.push('-- is not accepted by this command');
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      problems.push(`unknown flag ${arg}`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs.get(name);
    if (spec === undefined) {
      problems.push(`unknown flag --${name}`);
      continue;
    }
    let raw: string | true;
    if (spec.type === 'boolean') {
      if (eq !== -1) {
        problems.push(`--${name} takes no value`);
        continue;
      }
      raw = true;
    } else if (eq !== -1) {
      raw = arg.slice(eq + 1);
      if (raw === '') {
        problems.push(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
        continue;
      }
    } else {
      const next = argv[i + 1];
      // A following flag (or `--`) means the value was left out, not that it is the value.
      if (next === undefined || next.startsWith('--')) {
        problems.push(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
        continue;
      }
      raw = next;
      i++;
    }
    const parsed = convert(spec, raw, problems);
    if (parsed === undefined) continue;
    const seen = values.get(name);
    if (seen === undefined) values.set(name, [parsed]);
    else if (spec.repeat) seen.push(parsed);
    else if (seen.length === 1) {
      seen.push(parsed);
      problems.push(`--${name} given more than once`);
    }
  }

  const flags: Record<string, FlagValue | undefined> = Object.create(null) as Record<string, FlagValue | undefined>;
  for (const spec of command.flags) {
    const got = values.get(spec.name);
    if (got === undefined) {
      if (spec.required) problems.push(`--${spec.name} is required`);
      flags[spec.name] = spec.repeat ? [] : spec.type === 'boolean' ? false : undefined;
    } else {
      flags[spec.name] = spec.repeat ? (got as string[] | number[]) : got[0];
    }
  }

  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (positionals.length < min) {
    problems.push(`expected at least ${min} argument${min === 1 ? '' : 's'}, got ${positionals.length}`);
  } else if (positionals.length > max) {
    problems.push(max === 0
      ? `unexpected argument ${JSON.stringify(positionals[0])}`
      : `expected at most ${max} argument${max === 1 ? '' : 's'}, got ${positionals.length}`);
  }

  if (problems.length > 0) throw new UsageError(problems);
  return { flags, positionals, rest };
}

function convert(spec: FlagSpec, raw: string | true, problems: string[]): string | number | boolean | undefined {
  if (raw === true || spec.type === 'string') return raw;
  if (INTEGER.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
  problems.push(`--${spec.name} must be an integer, got ${JSON.stringify(raw)}`);
  return undefined;
}
