/**
 * Streams an upstream answer's body into the client's response. Resolves when the response has
 * finished; rejects when the upstream body fails or the client leaves first, and then destroys
 * the upstream body, which cancels the upstream request.
 *
 * Not `stream/promises` pipeline: it makes an AbortController per call and aborts it on finish,
 * and that abort's DOMException (a captured stack trace) cost about 50 µs on every request.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

export function relayBody(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      body.destroy();
      reject(err);
    };
    body.once('error', fail);
    // A response already closed emits no 'close' again: without this the promise would never settle.
    if (res.destroyed) return fail(new Error('the client closed the connection'));
    res.once('finish', resolve);
    res.once('close', () => {
      if (!res.writableFinished) fail(new Error('the client closed the connection'));
    });
    body.pipe(res);
  });
}

/**
 * The whole of a small upstream answer, for an answer a later op binds to (SPEC §2.2): its value is
 * kept before the client sees the answer. Rejects past `limit` bytes.
 */
export async function readAnswer(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new Error(`the answer that later ops bind to is over ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
