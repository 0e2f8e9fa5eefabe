import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/types.js';
import { ClientGone, Denial, unparseable } from '../reasons.js';

/**
 * Reads the whole request body, bounded by `limits.max_body_bytes` in size and by
 * `limits.request_timeout` in time (SPEC §3: the body is checked against the certificate before
 * anything goes upstream, so it is buffered, never streamed through). A body that trickles in
 * (slowloris) is refused 408 here, with a record, before Node's own backstop cuts the connection.
 */
/** `limits.max_body_bytes` and `limits.request_timeout`, compiled once at start (runner.ts). */
export interface BodyLimits {
  readonly maxBytes: number;
  readonly timeoutMs: number;
  /** The configured seconds, as the 408 message names them. */
  readonly timeoutS: number;
}

export function bodyLimits(limits: Config['limits']): BodyLimits {
  return { maxBytes: limits.max_body_bytes, timeoutMs: limits.request_timeout * 1000, timeoutS: limits.request_timeout };
}

export function readBody(req: IncomingMessage, declared: number | null, limits: BodyLimits): Promise<Buffer> {
  const refused = unreadable.get(req);
  if (refused !== undefined) return Promise.reject(refused);
  const limit = limits.maxBytes;
  if (declared !== null && declared > limit) return Promise.reject(tooLarge(limit));
  if (declared === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      cleanup();
      reject(new Denial('unparseable_request', `the body did not arrive within limits.request_timeout (${limits.timeoutS} s)`, 408));
    }, limits.timeoutMs);
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      if (declared !== null && size !== declared) reject(unparseable('the body is shorter than its content-length'));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (): void => {
      cleanup();
      reject(unparseable('the body could not be read'));
    };
    const onAborted = (): void => {
      cleanup();
      reject(new ClientGone('the client went away while sending the body'));
    };
    readers.set(req, (denial) => {
      cleanup();
      reject(denial);
    });
    function cleanup(): void {
      readers.delete(req);
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
    }
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

/** Bodies Node's parser gave up on before their reader started (a handler still verifying the certificate). */
const unreadable = new WeakMap<IncomingMessage, Denial>();
/** The reader of each body being read, to tell it the parser gave up. */
const readers = new WeakMap<IncomingMessage, (denial: Denial) => void>();

/**
 * Node's parser refused the rest of `req`'s body (a malformed chunk, say; agent-listener.ts): its
 * reader denies the request, now or as soon as it starts, so the handler answers with a record.
 */
export function refuseBody(req: IncomingMessage, parserError: string): void {
  const denial = unparseable(`the body is malformed (${parserError})`);
  const reader = readers.get(req);
  if (reader) reader(denial);
  else unreadable.set(req, denial);
}

function tooLarge(limit: number): Denial {
  return new Denial('unparseable_request', `the body exceeds limits.max_body_bytes (${limit})`, 413);
}
