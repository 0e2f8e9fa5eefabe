import { posix } from 'node:path';
import { isDirectory, tar, untar, type PodFiles } from './pod-files.js';
import { successStatus } from './status.js';

/**
 * The stand-in's "containers": tiny fake processes behind exec and attach, written once against
 * ProcessIO so the WebSocket and the SPDY transports run the same thing.
 */
export interface ProcessIO {
  /** Whether the client attached stdin (`stdin=true`). */
  readonly stdin: boolean;
  write(fd: 'stdout' | 'stderr', data: Buffer | string): void;
  /** Each stdin chunk, then null once the client closed its stdin. */
  onStdin(listener: (chunk: Buffer | null) => void): void;
  /** Ends the session: the Status goes on the error channel, then every channel closes. */
  exit(status: Record<string, unknown>): void;
  /** The client went away before the process ended. */
  onClose(listener: () => void): void;
}

export type Process = (io: ProcessIO) => void;

/** How often an attached main process without stdin prints a line. */
export const ATTACH_LINE_INTERVAL_MS = 500;

/**
 * `exec COMMAND`: `echo ARGS` prints its args, `cat` echoes stdin until the client closes it (or
 * prints the pod's files it names), `false` exits 1, and `test` and `tar` work on the pod's files
 * as `kubectl cp` needs (pod-files.ts); anything else is not found, as the container runtime
 * would say.
 */
export function execProcess(command: readonly string[], files: PodFiles): Process {
  const [program, ...args] = command;
  return (io) => {
    switch (program) {
      case 'echo':
        io.write('stdout', `${args.join(' ')}\n`);
        return io.exit(successStatus());
      case 'false':
        return io.exit(exitStatus(command, 1));
      case 'cat':
        if (args.length > 0) return cat(io, command, files);
        if (!io.stdin) return io.exit(successStatus());
        return io.onStdin((chunk) => (chunk === null ? io.exit(successStatus()) : io.write('stdout', chunk)));
      case 'test':
        return io.exit(test(args, files) ? successStatus() : exitStatus(command, 1));
      case 'tar':
        return runTar(io, command, files);
      default:
        return io.exit({
          metadata: {},
          status: 'Failure',
          message: `Internal error occurred: error executing command in container: exec: "${String(program)}": executable file not found in $PATH`,
          reason: 'InternalError',
          code: 500,
        });
    }
  };
}

function cat(io: ProcessIO, command: readonly string[], files: PodFiles): void {
  for (const path of command.slice(1)) {
    const data = files.get(posix.resolve('/', path));
    if (data === undefined) {
      io.write('stderr', `cat: can't open '${path}': No such file or directory\n`);
      return io.exit(exitStatus(command, 1));
    }
    io.write('stdout', data);
  }
  io.exit(successStatus());
}

/** `test -d|-e|-f PATH`. */
function test(args: readonly string[], files: PodFiles): boolean {
  const [flag, path] = args;
  if (path === undefined) return false;
  const dir = isDirectory(files, path);
  const file = files.has(posix.resolve('/', path));
  return flag === '-d' ? dir : flag === '-f' ? file : flag === '-e' ? dir || file : false;
}

/**
 * The two forms kubectl cp runs: `tar [options] -xmf - [-C DIR]` reads an archive from stdin,
 * `tar cf - PATH` writes one to stdout. Exit 2 on anything else, as tar does on a usage error.
 */
function runTar(io: ProcessIO, command: readonly string[], files: PodFiles): void {
  const args = command.slice(1);
  const c = args.indexOf('-C');
  const dir = c >= 0 ? args[c + 1] ?? '/' : '/';
  const mode = args.find((a) => /^-?[a-z]*[xc][a-z]*f$/.test(a)) ?? '';
  const fail = (message: string) => {
    io.write('stderr', `tar: ${message}\n`);
    io.exit(exitStatus(command, 2));
  };
  if (mode.includes('x') && args[args.indexOf(mode) + 1] === '-') {
    if (!io.stdin) return fail('refusing to read archive contents from terminal');
    const chunks: Buffer[] = [];
    return io.onStdin((chunk) => {
      if (chunk !== null) return void chunks.push(chunk);
      try {
        untar(Buffer.concat(chunks), dir, files);
        io.exit(successStatus());
      } catch (err) {
        fail((err as Error).message.replace(/^tar: /, ''));
      }
    });
  }
  const path = args[args.indexOf(mode) + 2];
  if (mode.includes('c') && args[args.indexOf(mode) + 1] === '-' && path !== undefined) {
    const archive = tar(files, posix.resolve('/', dir, path));
    if (archive === undefined) return fail(`${path}: Cannot stat: No such file or directory`);
    io.write('stdout', archive);
    return io.exit(successStatus());
  }
  fail(`the stand-in runs only the forms kubectl cp uses, not ${JSON.stringify(args.join(' '))}`);
}

/**
 * `attach`: every container's main process greets whoever attaches, then echoes stdin when it is
 * attached (the session ends when the client closes stdin), or else prints a numbered line every
 * ATTACH_LINE_INTERVAL_MS for as long as the client stays, as a long-running server would.
 */
export function attachProcess(namespace: string, pod: string, container: string): Process {
  return (io) => {
    io.write('stdout', `attached to ${namespace}/${pod}/${container}\n`);
    if (io.stdin) return io.onStdin((chunk) => (chunk === null ? io.exit(successStatus()) : io.write('stdout', chunk)));
    let n = 0;
    const timer = setInterval(() => io.write('stdout', `main line ${++n} from ${namespace}/${pod}/${container}\n`), ATTACH_LINE_INTERVAL_MS);
    io.onClose(() => clearInterval(timer));
  };
}

/** The Status kubectl turns into `command terminated with exit code N` and its own exit code. */
function exitStatus(command: readonly string[], code: number): Record<string, unknown> {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}
