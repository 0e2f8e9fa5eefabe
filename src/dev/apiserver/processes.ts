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
 * `exec COMMAND`: `echo ARGS` prints its args, `cat` echoes stdin until the client closes it,
 * `false` exits 1; anything else is not found, as the container runtime would say.
 */
export function execProcess(command: readonly string[]): Process {
  const [program, ...args] = command;
  return (io) => {
    switch (program) {
      case 'echo':
        io.write('stdout', `${args.join(' ')}\n`);
        return io.exit(successStatus());
      case 'false':
        return io.exit(exitStatus(command, 1));
      case 'cat':
        if (!io.stdin) return io.exit(successStatus());
        return io.onStdin((chunk) => (chunk === null ? io.exit(successStatus()) : io.write('stdout', chunk)));
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
