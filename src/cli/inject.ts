/**
 * `seb inject`: the sidecar injector, a mutating admission webhook (README "Sidecar injection").
 * An HTTPS server answering AdmissionReview v1 on `/mutate` (src/inject/ decides) and `/healthz`.
 * The serving pair is re-read when its files change (cert-manager rotates the Secret); a new pair
 * that does not load is logged and the old one kept. SIGTERM or SIGINT stops it.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { isIPv4, isIPv6, type AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { watchFile, type FileWatch } from '../certificate/watch-file.js';
import { DEFAULT_BROKER_UID, defaultImages } from '../inject/contract.js';
import { reviewResponse } from '../inject/review.js';
import type { InjectOptions } from '../inject/settings.js';
import { parseStrictJson } from '../lib/strict-json.js';
import { UsageError, type Command } from './command.js';

/** The apiserver's own request body limit: no pod it sends is larger. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** The webhook's timeoutSeconds is 5; a request that takes longer is already abandoned. */
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
/** In-flight reviews get this long after SIGTERM; the apiserver retries nothing, so keep it short. */
const STOP_GRACE_MS = 5_000;
const MAX_UID = 2 ** 31 - 1;
const LISTEN = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;

export const command: Command = {
  path: ['inject'],
  summary: 'run the sidecar injector (a mutating admission webhook)',
  usage: '--tls-cert FILE --tls-key FILE [--listen ADDR] [--image IMG] [--init-image IMG] [--broker-uid N]',
  flags: [
    { name: 'tls-cert', type: 'string', value: 'FILE', required: true, help: 'serving certificate (PEM), re-read when it changes' },
    { name: 'tls-key', type: 'string', value: 'FILE', required: true, help: 'its private key (PEM)' },
    { name: 'listen', type: 'string', value: 'ADDR', help: 'host:port to serve on (default 0.0.0.0:8443)' },
    { name: 'image', type: 'string', value: 'IMG', help: 'broker image (default ghcr.io/seb-broker/seb:<version>)' },
    { name: 'init-image', type: 'string', value: 'IMG', help: 'init container image (default ghcr.io/seb-broker/seb-init:<version>)' },
    { name: 'broker-uid', type: 'number', value: 'N', help: `UID the broker runs as (default ${DEFAULT_BROKER_UID})` },
  ],
  async run(args, io) {
    const problems: string[] = [];
    const listen = parseListen(typeof args.flags['listen'] === 'string' ? args.flags['listen'] : '0.0.0.0:8443', problems);
    const brokerUid = typeof args.flags['broker-uid'] === 'number' ? args.flags['broker-uid'] : DEFAULT_BROKER_UID;
    if (brokerUid < 1 || brokerUid > MAX_UID) problems.push(`--broker-uid must be a UID from 1 to ${MAX_UID}, got ${brokerUid}`);
    const version = await packageVersion();
    const defaults = defaultImages(version);
    const image = imageFlag(args.flags['image'], 'image', defaults.image, problems);
    const initImage = imageFlag(args.flags['init-image'], 'init-image', defaults.initImage, problems);
    const certPath = args.flags['tls-cert'] as string;
    const keyPath = args.flags['tls-key'] as string;
    let pair: TlsPair | undefined;
    try {
      pair = await readPair(certPath, keyPath);
    } catch (err) {
      problems.push(`--tls-cert/--tls-key: ${(err as Error).message}`);
    }
    if (problems.length > 0 || pair === undefined) throw new UsageError(problems);

    const log = (line: string): void => void io.stderr.write(`seb inject: ${line}\n`);
    const options: InjectOptions = { image, initImage, brokerUid, version };
    const server = createServer({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' }, (req, res) => {
      serve(req, res, options, log).catch((err: unknown) => {
        log(`internal error: ${(err as Error).message}`);
        if (!res.headersSent) reply(res, 500, 'text/plain', 'internal error\n');
        else res.destroy();
      });
    });
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => resolve());
    });
    server.on('error', (err) => log(`server error: ${err.message}`));
    const watches = await followPair(server, certPath, keyPath, pair, log);
    const address = server.address() as AddressInfo;
    log(`listening on ${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}; broker image ${image}, init image ${initImage}, broker UID ${brokerUid}`);
    await stopped(server, log);
    for (const w of watches) w.close();
    return 0;
  },
};

async function serve(req: IncomingMessage, res: ServerResponse, options: InjectOptions, log: (line: string) => void): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path === '/healthz') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'text/plain', 'method not allowed\n', { Allow: 'GET, HEAD' });
    return reply(res, 200, 'text/plain', 'ok\n');
  }
  if (path !== '/mutate') return reply(res, 404, 'text/plain', 'not found\n');
  if (req.method !== 'POST') return reply(res, 405, 'text/plain', 'method not allowed\n', { Allow: 'POST' });
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json') return reply(res, 415, 'text/plain', 'an AdmissionReview is application/json\n');
  const body = await readBody(req);
  if (body === undefined) return reply(res, 413, 'text/plain', `the body exceeds ${MAX_BODY_BYTES} bytes\n`, { Connection: 'close' });
  let review: unknown;
  try {
    review = parseStrictJson(body);
  } catch {
    log('refused a review that is not strict JSON');
    return reply(res, 400, 'text/plain', 'the body is not strict JSON\n');
  }
  const answer = reviewResponse(review, options);
  if (answer.status === 400) {
    log(`refused a malformed review: ${answer.error}`);
    return reply(res, 400, 'text/plain', `malformed AdmissionReview: ${answer.error}\n`);
  }
  log(answer.summary);
  reply(res, 200, 'application/json', JSON.stringify(answer.body));
}

function reply(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

/**
 * The body, or undefined when it passes the cap. A slightly larger body is read to its end and
 * dropped, so the client reads the 413 instead of a reset; past twice the cap reading stops and
 * the connection closes after the 413.
 */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 2 * MAX_BODY_BYTES) return undefined;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks);
}

interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Both files, checked by building a TLS context: a key that does not match the certificate throws. */
async function readPair(certPath: string, keyPath: string): Promise<TlsPair> {
  const [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`the certificate and key do not load together: ${(err as Error).message}`);
  }
  return { cert, key };
}

/**
 * Re-reads the pair when either file changes. cert-manager replaces both in one Secret update,
 * but a reader can still see one new file and one old: that pair fails to load, is logged, and
 * the next change event loads the matching pair.
 */
async function followPair(server: Server, certPath: string, keyPath: string, initial: TlsPair, log: (line: string) => void): Promise<FileWatch[]> {
  let current = initial;
  const reload = async (): Promise<void> => {
    let next: TlsPair;
    try {
      next = await readPair(certPath, keyPath);
    } catch (err) {
      log(`new TLS pair not loaded, keeping the previous one: ${(err as Error).message}`);
      return;
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return;
    server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
    current = next;
    log('TLS pair reloaded');
  };
  const quiet = (line: string): void => log(`watching the TLS pair: ${line}`);
  return [await watchFile(certPath, reload, quiet), await watchFile(keyPath, reload, quiet)];
}

/** Resolves once a signal has stopped the server: new connections refused, reviews in flight finished. */
function stopped(server: Server, log: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      log(`${signal}: stopping`);
      const cut = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
      server.close(() => {
        clearTimeout(cut);
        log('stopped');
        resolve();
      });
      server.closeIdleConnections();
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
}

function parseListen(value: string, problems: string[]): { host: string; port: number } {
  const m = LISTEN.exec(value);
  const host = m?.[1] ?? m?.[2] ?? '';
  const port = Number(m?.[3]);
  const hostOk = m?.[1] !== undefined ? isIPv6(host) : host === 'localhost' || isIPv4(host);
  if (m === null || !hostOk || port > 65535) {
    problems.push(`--listen must be host:port with an IPv4, [IPv6] or localhost host and a port 0-65535, got ${JSON.stringify(value)}`);
  }
  return { host, port };
}

function imageFlag(value: unknown, name: string, def: string, problems: string[]): string {
  if (typeof value !== 'string') return def;
  if (!/^[^\s]+$/.test(value)) problems.push(`--${name} must be an image reference without spaces, got ${JSON.stringify(value)}`);
  return value;
}

/** `seb.dev/injected` and the default image tags carry the version this build was released as. */
async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error('package.json has no version');
  return pkg.version;
}
