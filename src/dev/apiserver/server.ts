import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { admitPodCreate, type WebhookServices } from './admission.js';
import { runDeploymentController } from './deployments.js';
import { authenticate, authorize, type AuthConfig, type RbacRule, type UserInfo } from './auth.js';
import {
  AGGREGATED_CONTENT_TYPE,
  VERSION_INFO,
  aggregated,
  apiGroup,
  legacyApiVersions,
  legacyGroupList,
  openApiGroupDoc,
  openApiRoot,
  resourceList,
  wantsAggregated,
} from './discovery.js';
import { fieldValidationOf, handle, type ResourceRoute } from './handlers.js';
import { serveLogs } from './logs.js';
import { findResource, groups } from './resources.js';
import { route } from './route.js';
import { protobufToJson } from './protobuf.js';
import { StatusError, forbidden } from './status.js';
import { ObjectStore } from './store.js';
import { STREAM_SUBRESOURCES, StreamServer, rejectUpgrade, type StreamOptions } from './streams.js';
import { wantsTable } from './table.js';
import { serveWatch } from './watch.js';

/**
 * The stand-in Kubernetes apiserver: a dev/test upstream faithful to what kubectl 1.32 needs
 * (reference/k8s.md §8), because no real kube-apiserver can run on these machines. TLS only:
 * kubectl sends no credentials at all to an http:// server (reference/k8s.md, finding 1).
 */
export interface StandInOptions extends StreamOptions {
  readonly tls: { readonly certPem: string; readonly keyPem: string };
  readonly tokens: Readonly<Record<string, { user: string; groups: string[] }>>;
  /** Users allowed to send Impersonate-* headers (the broker's own identity). */
  readonly impersonators: readonly string[];
  readonly rbac: Readonly<Record<string, readonly RbacRule[]>>;
  readonly host?: string;
  readonly port?: number;
  /**
   * Called after each resource request was answered: lets a test change the store between two
   * requests, e.g. between the broker's drift probe and its write (the check-then-use race).
   */
  readonly afterResponse?: (request: { method: string; path: string; user: string }) => void;
  /**
   * Called as each request arrives, before anything is checked: a log of what reached the
   * apiserver (an upgrade the broker sent, even if its client left). A returned promise delays the
   * answer, as a slow kubelet would.
   */
  readonly onRequest?: (request: { method: string; path: string; upgrade: boolean }) => void | Promise<void>;
  /**
   * Where a mutating webhook's `clientConfig.service` is served, by `namespace/name:port`, e.g.
   * `{'seb-system/seb-injector:443': 'https://127.0.0.1:PORT'}`: the stand-in resolves no Services.
   */
  readonly webhookServices?: WebhookServices;
}

export interface StandInApiserver {
  readonly url: string;
  readonly port: number;
  readonly store: ObjectStore;
  close(): Promise<void>;
}

/** The largest request body the apiserver accepts (its `MaxRequestBodyBytes` default, 3 MiB). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Paths a real cluster serves to anonymous callers (the `system:public-info-viewer` role). */
const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);
const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public'];

export async function startStandInApiserver(opts: StandInOptions): Promise<StandInApiserver> {
  const auth: AuthConfig = { tokens: opts.tokens, impersonators: opts.impersonators, rbac: opts.rbac };
  const store = new ObjectStore();
  const namespaces = findResource('', 'v1', 'namespaces')!;
  for (const name of SYSTEM_NAMESPACES) store.create(namespaces, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const stopController = runDeploymentController(store);
  const streams = new StreamServer(store, opts);
  const host = opts.host ?? '127.0.0.1';
  let url = '';

  const server = createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, (req, res) => {
    serve(req, res).catch((err: unknown) => writeError(res, err));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'https://standin.invalid').pathname;
    await opts.onRequest?.({ method: req.method ?? 'GET', path, upgrade: false });
    if (PUBLIC_PATHS.has(path)) return json(res, 200, path === '/version' ? VERSION_INFO : 'ok');
    const user = authenticate(req.headers, auth);
    const r = route(req.method ?? 'GET', req.url ?? '/');
    if (r.kind === 'nonresource') return nonResource(req, res, r.path);
    admit(user, r);
    const sentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // A patch is JSON or YAML on a real apiserver too: protobuf is only an object's encoding.
    const protobuf = sentType === 'application/vnd.kubernetes.protobuf' && r.verb !== 'patch';
    if (sentType.includes('protobuf') && !protobuf) {
      throw new StatusError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
    }
    // From here on the body is JSON: kubectl's protobuf creates and updates are decoded first.
    const received = protobuf ? protobufToJson(await readBody(req)) : await readBody(req);
    const contentType = protobuf ? 'application/json' : sentType;
    // Mutating admission runs after authorization and before the object is decoded into the store.
    const bytes = r.verb === 'create' && r.def.resource === 'pods' && r.subresource === ''
      ? await admitPodCreate(store, r.namespace, received, user, opts.webhookServices ?? {}, r.query.getAll('dryRun').length > 0)
      : received;
    const table = wantsTable(req.headers.accept);
    if (r.verb === 'watch') return serveWatch(req, res, store, r, table);
    if (r.subresource === 'log') return serveLogs(req, res, store, r);
    if (STREAM_SUBRESOURCES.has(r.subresource)) throw new StatusError('BadRequest', 'Upgrade request required');
    const reply = handle(store, r, { contentType, bytes, fieldValidation: fieldValidationOf(r.query), warnings: [] }, table);
    // RFC 7234 warn-code 299 with agent "-", the form the apiserver uses and kubectl prints.
    if (reply.warnings !== undefined) res.setHeader('Warning', reply.warnings.map((w) => `299 - ${JSON.stringify(w)}`));
    json(res, reply.status, reply.body, req.method === 'HEAD');
    opts.afterResponse?.({ method: req.method ?? 'GET', path, user: user.name });
  }

  function admit(user: UserInfo, r: ResourceRoute): void {
    const resource = r.subresource === '' ? r.def.resource : `${r.def.resource}/${r.subresource}`;
    // exec, attach and portforward need `create` whatever the method: the WebSocket GET is
    // authorized as create since 1.35 (reference/k8s.md §6), and the broker certifies them as create.
    const verb = STREAM_SUBRESOURCES.has(r.subresource) ? 'create' : r.verb;
    if (!authorize(user, verb, resource, auth)) throw forbidden(user.name, verb, resource, r.def.group, r.name, r.namespace);
  }

  function nonResource(req: IncomingMessage, res: ServerResponse, path: string): void {
    const p = path.replace(/\/+$/, '');
    const accept = req.headers.accept;
    if (p === '/api' || p === '/apis') {
      if (wantsAggregated(accept)) return json(res, 200, aggregated(p === '/api'), false, AGGREGATED_CONTENT_TYPE);
      return json(res, 200, p === '/api' ? legacyApiVersions(new URL(url).host) : legacyGroupList());
    }
    const gv = /^\/api\/(v1)$|^\/apis\/([^/]+)\/([^/]+)$/.exec(p);
    const list = gv === null ? undefined : resourceList(gv[2] ?? '', gv[1] ?? gv[3]!);
    if (list !== undefined) return json(res, 200, list);
    const group = /^\/apis\/([^/]+)$/.exec(p);
    const g = group === null ? undefined : groups().find((x) => x.group === group[1]);
    if (g !== undefined) return json(res, 200, apiGroup(g));
    if (p === '/openapi/v3') return json(res, 200, openApiRoot());
    const doc = /^\/openapi\/v3\/api\/(v1)$|^\/openapi\/v3\/apis\/([^/]+)\/([^/]+)$/.exec(p);
    const body = doc === null ? undefined : openApiGroupDoc(doc[2] ?? '', doc[1] ?? doc[3]!);
    if (body !== undefined) return json(res, 200, body);
    // `/openapi/v2` is absent on purpose: kubectl falls back to its compiled-in types (reference/k8s.md §2).
    throw new StatusError('NotFound', 'the server could not find the requested resource');
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A caller that resets the connection must not take the stand-in down with it.
    socket.on('error', () => socket.destroy());
    const path = new URL(req.url ?? '/', 'https://standin.invalid').pathname;
    const arrived = opts.onRequest?.({ method: req.method ?? 'GET', path, upgrade: true });
    if (arrived instanceof Promise) void arrived.then(() => socket.destroyed || serveUpgrade(req, socket, head));
    else serveUpgrade(req, socket, head);
  });

  function serveUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    try {
      const user = authenticate(req.headers, auth);
      const r = route(req.method ?? 'GET', req.url ?? '/');
      if (r.kind !== 'resource' || !STREAM_SUBRESOURCES.has(r.subresource)) throw new StatusError('BadRequest', 'this resource does not accept an upgrade');
      admit(user, r);
      streams.upgrade(req, socket, head, r);
    } catch (err) {
      rejectUpgrade(socket, err instanceof StatusError ? err : internal());
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `https://${host}:${port}`;
  return {
    url,
    port,
    store,
    close: async () => {
      stopController();
      streams.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function internal(): StatusError {
  return new StatusError('InternalError', 'Internal error occurred: the stand-in apiserver failed');
}

function json(res: ServerResponse, status: number, body: unknown, headOnly = false, contentType = 'application/json'): void {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain' : contentType, 'Content-Length': bytes.length });
  res.end(headOnly ? undefined : bytes);
}

function writeError(res: ServerResponse, err: unknown): void {
  const e = err instanceof StatusError ? err : internal();
  if (res.headersSent) {
    // A stream already under way (watch) can only carry the error as an ERROR event.
    res.end(`${JSON.stringify({ type: 'ERROR', object: e.toStatus() })}\n`);
    return;
  }
  json(res, e.code, e.toStatus());
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new StatusError('BadRequest', 'the request body is too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
