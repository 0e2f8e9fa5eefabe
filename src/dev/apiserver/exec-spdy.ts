import type { Process } from './processes.js';
import { streamHeader, type SpdyConnection, type SpdyStream } from './spdy-session.js';

/**
 * exec and attach over SPDY, the remotecommand protocol v4 (v5 over SPDY is the same: its close
 * signal exists only on WebSocket). The client opens one stream per channel, named by its
 * `streamtype` header: `error` always, `stdin`, `stdout`, `stderr` as the query asks (no `stderr`
 * with a TTY), `resize` with a TTY. The process starts once all of them are open; its exit
 * Status is written on the error stream, then every stream ends (FIN), as the kubelet does.
 */
export const SPDY_EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

export interface StreamFlags {
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
  readonly tty: boolean;
}

/** The kubelet's `streamCreationTimeout` is 30 s; a test client opens its streams at once. */
const STREAM_CREATION_TIMEOUT_MS = 10_000;
/** How long the client gets to read the last frames and hang up before the stand-in does. */
const HANG_UP_GRACE_MS = 1_000;

export function runOverSpdy(conn: SpdyConnection, flags: StreamFlags, process: Process, hangUp: () => void): void {
  const expected = new Set(['error']);
  if (flags.stdin) expected.add('stdin');
  if (flags.stdout) expected.add('stdout');
  if (flags.stderr && !flags.tty) expected.add('stderr');
  if (flags.tty) expected.add('resize');
  const streams = new Map<string, SpdyStream>();
  const timeout = setTimeout(hangUp, STREAM_CREATION_TIMEOUT_MS);
  conn.on('stream', (stream) => {
    stream.on('error', () => stream.destroy());
    stream.respond(200, {});
    const type = streamHeader(stream, 'streamtype');
    // The kubelet ignores a stream it did not ask for; so does the stand-in.
    if (!expected.has(type) || streams.has(type)) return;
    streams.set(type, stream);
    if (streams.size === expected.size) {
      clearTimeout(timeout);
      start(conn, streams, flags.stdin, process, hangUp);
    }
  });
  conn.on('close', () => clearTimeout(timeout));
}

function start(conn: SpdyConnection, streams: ReadonlyMap<string, SpdyStream>, stdin: boolean, process: Process, hangUp: () => void): void {
  let ended = false;
  let onStdin: ((chunk: Buffer | null) => void) | null = null;
  let onClose: (() => void) | null = null;
  let lingering: NodeJS.Timeout | undefined;
  // Terminal sizes mean nothing to a fake process, but they must be read so flow control moves on.
  streams.get('resize')?.resume();
  const input = streams.get('stdin');
  input?.on('data', (chunk: Buffer) => onStdin?.(chunk));
  input?.on('end', () => onStdin?.(null));
  conn.on('close', () => {
    clearTimeout(lingering);
    if (ended) return;
    ended = true;
    onClose?.();
  });
  process({
    stdin,
    write: (fd, data) => {
      if (!ended) streams.get(fd)?.write(data);
    },
    onStdin: (listener) => (onStdin = listener),
    exit: (status) => {
      if (ended) return;
      ended = true;
      streams.get('error')!.write(JSON.stringify(status));
      for (const stream of streams.values()) stream.end();
      lingering = setTimeout(hangUp, HANG_UP_GRACE_MS);
    },
    onClose: (listener) => (onClose = listener),
  });
}
