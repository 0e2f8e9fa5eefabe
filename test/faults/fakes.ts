/**
 * Local peers the fault tests control byte by byte: an STS that answers AssumeRole (or fails in a
 * chosen way), and an upstream that stands for S3 (plain HTTP) or the apiserver (TLS). Each counts
 * what reaches it, so a test can assert that nothing went upstream after a deny. Loopback only;
 * every server is closed by its `close`, which the caller registers with `t.teardown`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { issueServingCert, makeLocalCa } from '../../src/targets/kube/local-pki.js';

/** How a fake answers the requests that reach it from now on. */
export type Answer =
  /** The normal answer of that peer (credentials, an S3 200, an apiserver object). */
  | { readonly kind: 'ok'; readonly delayMs?: number }
  /** This status and body, as the peer's own error. */
  | { readonly kind: 'status'; readonly status: number; readonly body: string; readonly type?: string; readonly delayMs?: number }
  /** TCP reset before a byte of the answer. */
  | { readonly kind: 'reset' }
  /** The head and part of the body, then a TCP reset. */
  | { readonly kind: 'reset-mid-body' }
  /** Never answers (until the fake is closed). */
  | { readonly kind: 'hang' }
  /** 200 with a Content-Length larger than what is sent, then a clean close. */
  | { readonly kind: 'short-length' }
  /** 200 chunked, one chunk, then a clean close without the last chunk. */
  | { readonly kind: 'short-chunked' }
  /** 200, then a chunk (of `bytes`, default 1 KiB) every `everyMs` for as long as the connection lasts. */
  | { readonly kind: 'trickle'; readonly everyMs: number; readonly bytes?: number };

/** What reached a fake: counted when the head arrives, the body filled in as it ends. */
export interface Arrival {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  body: Buffer | null;
  /** The fake's side of the connection closed (the caller went away, or the answer ended). */
  closed: boolean;
}

export interface Fake {
  readonly origin: string;
  readonly port: number;
  readonly arrivals: Arrival[];
  /** Applies to every request that arrives after it is set. */
  answer: Answer;
  /** When set and it returns an answer, that answer wins over `answer` for this request (by method and URL). */
  answerFor?: ((method: string, url: string) => Answer | undefined) | undefined;
  /** Stops listening (connections refused) and cuts what is open; `listen` opens the same port again. */
  stop(): Promise<void>;
  listen(): Promise<void>;
  close(): Promise<void>;
}

type Normal = (req: IncomingMessage, body: Buffer, n: number) => { status: number; headers: Record<string, string>; body: string };

async function startFake(server: Server, scheme: 'http' | 'https', normal: Normal): Promise<Fake> {
  const arrivals: Arrival[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const fake: Fake = {
    origin: '',
    port: 0,
    arrivals,
    answer: { kind: 'ok' },
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    listen: () => listenOn(server, fake.port),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      if (server.listening) await fake.stop();
      else for (const s of sockets) s.destroy();
    },
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const arrival: Arrival = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: null, closed: false };
    arrivals.push(arrival);
    res.once('close', () => (arrival.closed = true));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      arrival.body = Buffer.concat(chunks);
      const answer = fake.answerFor?.(arrival.method, arrival.url) ?? fake.answer;
      const socket = req.socket;
      switch (answer.kind) {
        case 'ok':
        case 'status': {
          const send = (): void => {
            if (res.destroyed) return;
            const out = answer.kind === 'ok' ? normal(req, arrival.body!, arrivals.length) : { status: answer.status, headers: { 'content-type': answer.type ?? 'text/xml' }, body: answer.body };
            res.writeHead(out.status, { ...out.headers, 'content-length': String(Buffer.byteLength(out.body)) }).end(out.body);
          };
          if (answer.delayMs) later(answer.delayMs, send);
          else send();
          return;
        }
        case 'reset':
          reset(socket);
          return;
        case 'reset-mid-body':
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
          res.write('x'.repeat(100), () => later(50, () => reset(socket)));
          return;
        case 'hang':
          return;
        case 'short-length':
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
          res.write('y'.repeat(100), () => later(50, () => socket.end()));
          return;
        case 'short-chunked':
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.write('z'.repeat(100), () => later(50, () => socket.end()));
          return;
        case 'trickle': {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const tick = (): void => {
            if (res.destroyed) return;
            res.write('t'.repeat(answer.bytes ?? 1024));
            later(answer.everyMs, tick);
          };
          tick();
          return;
        }
      }
    });
  });
  await listenOn(server, 0);
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, { port, origin: `${scheme}://127.0.0.1:${port}` });
}

/** A TCP reset where the socket is plain TCP; a TLS socket (the apiserver) is cut without close_notify. */
function reset(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function listenOn(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** STS's own error shape (reference/aws.md §6), e.g. Throttling. */
export function stsError(code: string, message: string): string {
  return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>fake-sts-error</RequestId></ErrorResponse>`;
}

/** The access key id STS hands out for its n-th AssumeRole. */
export const mintedKey = (n: number): string => `ASIAFAKESTS${String(n).padStart(6, '0')}`;

/** An STS on loopback: AssumeRole answers credentials valid for 15 minutes (unless told otherwise). */
export function startFakeSts(): Promise<Fake> {
  return startFake(createServer(), 'http', (_req, body, n) => {
    const action = new URLSearchParams(body.toString('utf8')).get('Action');
    if (action !== 'AssumeRole') return { status: 400, headers: { 'content-type': 'text/xml' }, body: stsError('InvalidAction', `not AssumeRole: ${action}`) };
    const expiration = new Date(Date.now() + 900_000).toISOString();
    return {
      status: 200,
      headers: { 'content-type': 'text/xml' },
      body: `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>${mintedKey(n)}</AccessKeyId><SecretAccessKey>fake-secret-${n}</SecretAccessKey><SessionToken>fake-token-${n}</SessionToken><Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAFAKE:s</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>sts-${n}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    };
  });
}

/** An S3-like upstream: every request it answers normally gets 200, an ETag and a request id. */
export function startFakeS3(): Promise<Fake> {
  return startFake(createServer(), 'http', (_req, _body, n) => ({
    status: 200,
    headers: { etag: '"0123456789abcdef0123456789abcdef"', 'x-amz-request-id': `fake-s3-${n}` },
    body: '',
  }));
}

export interface FakeApiserver extends Fake {
  /** A kubeconfig for the broker's own identity (bearer token), trusting the fake's CA. */
  readonly kubeconfig: string;
}

/**
 * An apiserver stand-in over TLS (the broker refuses a plain-HTTP apiserver): a write answers
 * 201 with its body, a GET of one object 404 (so a pre_state `absent` holds).
 */
export async function startFakeApiserver(dir: string): Promise<FakeApiserver> {
  const ca = await makeLocalCa('fault tests apiserver CA');
  const tls = await issueServingCert(ca, ['127.0.0.1']);
  const server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem });
  const fake = await startFake(server as unknown as Server, 'https', (req, body) => {
    if (req.method === 'GET') {
      return {
        status: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404 }),
      };
    }
    return { status: 201, headers: { 'content-type': 'application/json' }, body: body.length ? body.toString('utf8') : '{}' };
  });
  const caPath = join(dir, 'fake-apiserver-ca.crt');
  writeFileSync(caPath, ca.certPem);
  const kubeconfig = join(dir, 'fake-apiserver.kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: fake.origin, 'certificate-authority': caPath } }],
      users: [{ name: 'broker', user: { token: 'fake-broker-token' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'broker' } }],
      'current-context': 'fake',
    }),
  );
  return Object.assign(fake, { kubeconfig });
}
