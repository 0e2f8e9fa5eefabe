/**
 * A raw HTTP/1.1 client over node:net or node:tls: writes exactly the bytes a test gives (all at
 * once, or piece by piece), parses whatever comes back, and says whether and when the broker
 * closed the connection. Every exchange is bounded by its own timeout.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface RawResult {
  /** Every response in arrival order, informational (1xx) ones included. */
  readonly all: RawResponse[];
  /** The final (non-1xx) responses. */
  readonly responses: RawResponse[];
  /** Bytes after the last whole response (a body cut short). */
  readonly rest: string;
  /** The broker ended or reset the connection. */
  readonly closed: boolean;
  readonly reset: boolean;
  readonly timedOut: boolean;
  /** Milliseconds from connect to the broker closing the connection (or to the timeout). */
  readonly elapsedMs: number;
  /** Milliseconds from connect to the first final response (null: none came). */
  readonly answeredMs: number | null;
}

/** Where to connect: plain TCP to the AWS listener, or TLS (trusting `ca`) to the kube listener. */
export interface Target {
  readonly port: number;
  readonly ca?: string | Buffer;
}

export function open(target: Target): Socket {
  return target.ca === undefined
    ? tcpConnect({ host: '127.0.0.1', port: target.port })
    : tlsConnect({ host: '127.0.0.1', port: target.port, ca: target.ca, servername: 'localhost' });
}

/** One response from the front of `buf`, or null while it is incomplete. */
export function takeResponse(buf: Buffer, closed: boolean): { res: RawResponse; used: number } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
  if (m === null) throw new Error(`not an HTTP status line: ${JSON.stringify(lines[0])}`);
  const status = Number(m[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let pos = end + 4;
  if (status < 200 || status === 204 || status === 304) return { res: { status, headers, body: '' }, used: pos };
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd === -1) return null;
      const size = parseInt(buf.toString('latin1', pos, lineEnd), 16);
      pos = lineEnd + 2;
      if (size === 0) {
        if (buf.length < pos + 2) return null;
        pos += 2;
        break;
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    return { res: { status, headers, body: Buffer.concat(parts).toString('utf8') }, used: pos };
  }
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (buf.length < pos + n) return null;
    return { res: { status, headers, body: buf.toString('utf8', pos, pos + n) }, used: pos + n };
  }
  if (!closed) return null;
  return { res: { status, headers, body: buf.toString('utf8', pos) }, used: buf.length };
}

export interface ExchangeOptions {
  /** Final responses to wait for before returning (default 1); ignored with waitClose. */
  readonly count?: number;
  /** Wait until the broker closes the connection (or the timeout). */
  readonly waitClose?: boolean;
  readonly timeoutMs?: number;
  /** Called once connected and the bytes are written; may write more or destroy the socket. */
  readonly after?: (socket: Socket) => void;
  /** Called with each final response as it is parsed (e.g. to leave after the head). */
  readonly onResponse?: (res: RawResponse, socket: Socket) => void;
}

export function exchange(target: Target, bytes: string | Buffer | readonly (string | Buffer)[], o: ExchangeOptions = {}): Promise<RawResult> {
  const count = o.count ?? 1;
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = open(target);
    let acc = Buffer.alloc(0);
    const all: RawResponse[] = [];
    let closed = false;
    let reset = false;
    let timedOut = false;
    let done = false;
    let elapsedMs = 0;
    let answeredMs: number | null = null;
    // A deadline for the whole exchange, not an idle timeout: a trickling writer is never idle.
    const deadline = setTimeout(() => {
      timedOut = true;
      finish();
    }, o.timeoutMs ?? 10_000);
    const finals = (): RawResponse[] => all.filter((r) => r.status >= 200);
    const parse = (end: boolean): void => {
      for (;;) {
        const got = takeResponse(acc, end);
        if (got === null) return;
        all.push(got.res);
        acc = acc.subarray(got.used);
        if (got.res.status < 200) continue;
        answeredMs ??= Date.now() - started;
        o.onResponse?.(got.res, socket);
      }
    };
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      elapsedMs ||= Date.now() - started;
      parse(true);
      socket.destroy();
      resolve({ all, responses: finals(), rest: acc.toString('latin1'), closed, reset, timedOut, elapsedMs, answeredMs });
    };
    socket.on('data', (chunk: Buffer) => {
      acc = Buffer.concat([acc, chunk]);
      parse(false);
      if (!o.waitClose && finals().length >= count) finish();
    });
    socket.on('end', () => {
      closed = true;
      elapsedMs = Date.now() - started;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
        closed = reset = true;
        elapsedMs ||= Date.now() - started;
      }
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    const write = (): void => {
      for (const b of typeof bytes === 'string' || Buffer.isBuffer(bytes) ? [bytes] : bytes) socket.write(b);
      o.after?.(socket);
    };
    if (target.ca === undefined) socket.once('connect', write);
    else socket.once('secureConnect', write);
  });
}

/**
 * Sends `bytes` one byte every `everyMs` (slowloris) until the broker closes the connection, the
 * bytes run out, or `timeoutMs` passes. Resolves with what came back and how long it took.
 */
export function trickle(target: Target, bytes: string, everyMs: number, timeoutMs: number): Promise<RawResult & { sent: number }> {
  let sent = 0;
  let timer: NodeJS.Timeout | null = null;
  return exchange(target, [], {
    waitClose: true,
    timeoutMs,
    after: (socket) => {
      const next = (): void => {
        if (socket.destroyed || sent >= bytes.length) return;
        socket.write(bytes[sent++]!);
        timer = setTimeout(next, everyMs);
      };
      socket.once('close', () => timer && clearTimeout(timer));
      next();
    },
  }).then((r) => ({ ...r, sent }));
}
