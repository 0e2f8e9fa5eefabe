/**
 * The issuer's side of the URL source (url-source.ts): a small HTTP server that publishes the
 * current authority state. It is the reference for a SAB implementing the feed, and what the tests
 * and `bench/revocation.mjs` run; the broker never starts one.
 *
 *   GET, Accept: text/event-stream (mode 'sse')  -> 200 event stream: the current state, then each new one;
 *                                                   `:` heartbeats every HEARTBEAT_MS
 *   GET, If-None-Match: <current ETag>           -> 304; in mode 'long-poll' with `Prefer: wait=N`, held first
 *                                                   until the next publish or N seconds (at most MAX_WAIT_S);
 *                                                   every answer to such a request says `Preference-Applied: wait=N`
 *   GET                                          -> 200 application/jose: the state, with its ETag
 *   (no state published yet)                     -> 503
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FeedMode = 'sse' | 'long-poll' | 'poll';

const HEARTBEAT_MS = 15_000;
const MAX_WAIT_S = 60;

export interface FeedOptions {
  readonly mode: FeedMode;
  readonly host?: string;
  readonly port?: number;
}

export interface AuthorityFeed {
  readonly url: string;
  /** Requests answered or held so far (tests count the broker's polls). */
  readonly requests: number;
  /** Makes `jws` the current state and pushes it to every open stream and held request. */
  publish(jws: string): void;
  close(): Promise<void>;
}

export async function startAuthorityFeed(o: FeedOptions): Promise<AuthorityFeed> {
  let state: string | null = null;
  let etag = '';
  let requests = 0;
  const streams = new Set<ServerResponse>();
  const held = new Set<() => void>();

  const server = createServer((req, res) => {
    requests++;
    if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
    if (state === null) return void res.writeHead(503, { 'retry-after': '1' }).end('no authority state yet\n');
    if (o.mode === 'sse' && (req.headers.accept ?? '').includes('text/event-stream')) return openStream(res, state);
    const wait = o.mode === 'long-poll' ? Math.min(MAX_WAIT_S, Number(/wait=(\d+)/.exec(String(req.headers.prefer ?? ''))?.[1] ?? 0)) : 0;
    // Said on every answer, held or not: it tells the broker this server holds requests, so after
    // a new state it may ask again at once.
    if (wait > 0) res.setHeader('preference-applied', `wait=${wait}`);
    if (wait > 0 && req.headers['if-none-match'] === etag) return hold(req, res, wait);
    answer(req, res, state);
  });

  function openStream(res: ServerResponse, current: string): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(event(current));
    streams.add(res);
    res.on('close', () => streams.delete(res));
  }

  function hold(req: IncomingMessage, res: ServerResponse, wait: number): void {
    const release = () => {
      clearTimeout(timer);
      held.delete(release);
      // A published state is never withdrawn, so one is there when a held request is released.
      answer(req, res, state!);
    };
    const timer = setTimeout(release, wait * 1000);
    held.add(release);
    res.on('close', () => {
      clearTimeout(timer);
      held.delete(release);
    });
  }

  function answer(req: IncomingMessage, res: ServerResponse, current: string): void {
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { 'content-type': 'application/jose', etag, 'cache-control': 'no-cache' }).end(current);
  }

  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(':\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/authority`,
    get requests() {
      return requests;
    },
    publish(jws) {
      state = jws;
      etag = `"${createHash('sha256').update(jws).digest('base64url')}"`;
      for (const res of streams) res.write(event(jws));
      for (const release of [...held]) release();
    },
    async close() {
      clearInterval(heartbeat);
      for (const release of [...held]) release();
      for (const res of streams) res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function event(jws: string): string {
  return `data: ${jws}\n\n`;
}
