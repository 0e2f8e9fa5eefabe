/**
 * The shape every `seb` subcommand has. cli/main.ts owns parsing and dispatch; a command module
 * exports one `Command` and never reads process.argv itself.
 */

export interface FlagSpec {
  /** Long name without dashes, e.g. `config` for `--config`. */
  readonly name: string;
  readonly type: 'string' | 'number' | 'boolean';
  /** May be given several times; the parsed value is then an array. */
  readonly repeat?: boolean;
  readonly required?: boolean;
  /** Value placeholder for help, e.g. `FILE`. */
  readonly value?: string;
  readonly help: string;
}

export type FlagValue = string | number | boolean | string[] | number[];

export interface ParsedArgs {
  readonly flags: Readonly<Record<string, FlagValue | undefined>>;
  readonly positionals: readonly string[];
  /** Everything after a bare `--` (for `seb op capture -- COMMAND...`). */
  readonly rest: readonly string[];
}

export interface CliIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
}

export interface Command {
  /** Words after `seb`, e.g. `['cert', 'issue']`. */
  readonly path: readonly string[];
  readonly summary: string;
  /** Usage line after `seb <path>`, e.g. `--key FILE --iss ISS ...`. */
  readonly usage: string;
  readonly flags: readonly FlagSpec[];
  /** Allowed count of positional arguments. */
  readonly positionals?: { readonly min: number; readonly max: number; readonly help: string };
  /** Accepts `-- COMMAND...`. */
  readonly acceptsRest?: boolean;
  /** Resolves to the exit status. Throw UsageError for bad input (exit 2, one line per problem). */
  run(args: ParsedArgs, io: CliIO): Promise<number>;
}

// Defined below the CLI so config/load.ts can raise it without importing the CLI.
export { UsageError } from '../lib/usage-error.js';
