import type { IncomingMessage } from 'node:http';
import { Denial, unparseable } from '../reasons.js';

/**
 * Reads the whole request body, bounded by `limit` (SPEC §3: the body is checked against the
 * certificate before anything goes upstream, so it is buffered, never streamed through).
 */
export function readBody(req: IncomingMessage, declared: number | null, limit: number): Promise<Buffer> {
  if (declared !== null && declared > limit) return Promise.reject(tooLarge(limit));
  if (declared === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
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
      reject(unparseable('the client went away while sending the body'));
    };
    function cleanup(): void {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
    }
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

function tooLarge(limit: number): Denial {
  return new Denial('unparseable_request', `the body exceeds limits.max_body_bytes (${limit})`, 413);
}
