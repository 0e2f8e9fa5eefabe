#!/usr/bin/env node
/**
 * The `seb` binary (SPEC §9): finds the command by the longest matching path, prints help, parses
 * flags and runs the command. Exit status: help 0; bad usage or config 2 (one line per problem,
 * naming the command); any other failure 1 with the message only, the stack only under SEB_DEBUG=1.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from './args.js';
import { UsageError, type CliIO, type Command } from './command.js';
import { commands } from './commands.js';

/** Runs one command line; `registry` is the set of commands (tests pass their own). */
export async function main(argv: readonly string[], io: CliIO, registry: readonly Command[] = commands): Promise<number> {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('-')) break;
    words.push(arg);
  }
  const wantsHelp = helpRequested(argv);

  if (words[0] === 'help') return main([...words.slice(1), '--help'], io, registry);
  if (words.length === 0) {
    if (wantsHelp) return write(io.stdout, overview(registry), 0);
    const problem = argv.length === 0 ? 'no command given' : `unknown option ${argv[0]}`;
    return write(io.stderr, `seb: ${problem}\n\n${overview(registry)}`, 2);
  }

  const command = longestMatch(registry, words);
  if (command === undefined) {
    const group = longestGroup(registry, words);
    if (group.length > 0 && group.length === words.length) {
      if (wantsHelp) return write(io.stdout, groupHelp(registry, group), 0);
      return write(io.stderr, `seb ${group.join(' ')}: missing subcommand\n\n${groupHelp(registry, group)}`, 2);
    }
    return write(io.stderr, `seb: unknown command ${JSON.stringify(words.join(' '))}\n\n${overview(registry)}`, 2);
  }

  const name = `seb ${command.path.join(' ')}`;
  const rest = argv.slice(command.path.length);
  if (helpRequested(rest)) return write(io.stdout, commandHelp(command), 0);
  try {
    return await command.run(parseArgs(command, rest), io);
  } catch (err) {
    if (err instanceof UsageError) {
      return write(io.stderr, err.problems.map((p) => `${name}: ${p}\n`).join(''), 2);
    }
    const detail = io.env['SEB_DEBUG'] === '1' && err instanceof Error && err.stack ? err.stack : errorMessage(err);
    return write(io.stderr, `${name}: ${detail}\n`, 1);
  }
}

/** `--help` or `-h` before any `--` (after it, the words belong to the wrapped command). */
function helpRequested(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function write(stream: NodeJS.WritableStream, text: string, status: number): number {
  stream.write(text);
  return status;
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((w, i) => path[i] === w);
}

function longestMatch(registry: readonly Command[], words: readonly string[]): Command | undefined {
  let best: Command | undefined;
  for (const c of registry) {
    if (startsWith(words, c.path) && (best === undefined || c.path.length > best.path.length)) best = c;
  }
  return best;
}

/** The longest prefix of `words` that some command path extends (a group such as `cert`). */
function longestGroup(registry: readonly Command[], words: readonly string[]): readonly string[] {
  for (let n = words.length; n > 0; n--) {
    const prefix = words.slice(0, n);
    if (registry.some((c) => c.path.length > n && startsWith(c.path, prefix))) return prefix;
  }
  return [];
}

function table(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}\n`).join('');
}

function overview(registry: readonly Command[]): string {
  return (
    'seb: the Sovereign Execution Broker\n\nUsage: seb <command> [flags]\n\nCommands:\n' +
    table(registry.map((c) => [c.path.join(' '), c.summary])) +
    '\nRun `seb <command> --help` for its flags.\n'
  );
}

function groupHelp(registry: readonly Command[], group: readonly string[]): string {
  const members = registry.filter((c) => startsWith(c.path, group));
  return `Usage: seb ${group.join(' ')} <command> [flags]\n\nCommands:\n` + table(members.map((c) => [c.path.join(' '), c.summary]));
}

function commandHelp(c: Command): string {
  const flags = c.flags.map((f): [string, string] => {
    const notes = [f.required ? 'required' : '', f.repeat ? 'repeatable' : ''].filter((n) => n !== '');
    const left = `--${f.name}${f.type === 'boolean' ? '' : ` ${f.value ?? (f.type === 'number' ? 'N' : 'VALUE')}`}`;
    return [left, notes.length > 0 ? `${f.help} (${notes.join(', ')})` : f.help];
  });
  flags.push(['--help', 'show this help']);
  let text = `Usage: seb ${c.path.join(' ')}${c.usage ? ` ${c.usage}` : ''}\n\n${c.summary}\n\nFlags:\n${table(flags)}`;
  if (c.positionals) text += `\nArguments:\n  ${c.positionals.help}\n`;
  return text;
}

function isDirectRun(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    // npm installs the bin as a symlink, so compare real paths.
    return pathToFileURL(realpathSync(entry)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isDirectRun()) {
  // The AWS SDK warns on every start under Node 20 that its 2027 releases will need Node 22. seb
  // pins its SDK versions and states its Node support in the README; the notice would only bury
  // the broker's own lines on stderr. Whoever sets the variable keeps the choice.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const io: CliIO = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
  void main(process.argv.slice(2), io).then((status) => {
    process.exitCode = status;
  });
}
