/**
 * Assembles a broker from a validated config: everything that can be prepared once (trust keys,
 * signing key, endpoint table, minter, dispatcher) is prepared here, before any listener opens.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import type { Config, K8sExecutor } from '../config/types.js';
import type { Op } from '../certificate/types.js';
import { TrustStore } from '../certificate/trust.js';
import { CertificateVerifier } from '../certificate/verify.js';
import { loadPrivateJwk } from '../certificate/keys.js';
import { Authority } from '../authority/state.js';
import { startAuthoritySource } from '../authority/source.js';
import { FRESHNESS_CHECK_MS, FreshnessWatch } from '../authority/freshness-watch.js';
import { MemoryLedger } from '../replay/memory.js';
import { openLedger } from '../replay/open.js';
import { DEFAULT_STS_REGION, resolveEndpoint } from '../targets/aws/endpoints.js';
import { RecordWriter } from '../records/writer.js';
import { fileSink, stdoutSink, type RecordSink } from '../records/sinks.js';
import { fluentSink } from '../records/fluent-sink.js';
import { Runner } from './runner.js';
import { AwsTarget } from '../targets/aws/adapter.js';
import { KubeTarget } from '../targets/kube/adapter.js';
import { kubeUpstream } from '../targets/kube/upstream.js';
import { writeClientDir } from '../targets/kube/client-dir.js';
import { adminHandler } from './admin.js';
import { Metrics } from './metrics.js';
import { ListenerDrain } from './drain.js';
import { agentServerOptions, limitListener, refuseUnreadable } from './agent-listener.js';
import { ConnectionQueues } from './pipelining.js';
import { Lanes } from './lanes.js';

export interface BrokerOptions {
  /** Operational log lines (stderr by default; records never go here). */
  readonly log?: (line: string) => void;
  /** Where records go when the config says `stdout` (tests and `seb op capture` redirect it). */
  readonly recordsOut?: NodeJS.WritableStream;
  /**
   * `seb op capture`: print each certified-op-to-be instead of executing the mutation; returns the
   * op's index among the ops captured for the command (the ops a later op binds to, SPEC §2.2).
   */
  readonly capture?: (op: Op) => number;
  /** `seb op capture`: the account for captured ARNs. */
  readonly captureAccount?: string;
  /** Region of the STS endpoint for the broker's AssumeRole calls (the CLI passes AWS_REGION). */
  readonly stsRegion?: string;
}

export interface RunningBroker {
  readonly aws: AddressInfo | null;
  readonly kube: AddressInfo | null;
  readonly admin: AddressInfo;
  readonly records: RecordWriter;
  /**
   * Resolves even when the record stream could not be closed (that is logged, and the other
   * parts still stop); `records.close()` then rejects, with the same error on every call.
   */
  close(opts?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  /**
   * `seb run` on SIGTERM/SIGINT: stop accepting, close long-lived kube requests, let requests in
   * flight finish for up to limits.request_timeout, then cut the rest. Without it everything is
   * cut at once (tests, a start-up that failed halfway). A second call without it cuts now.
   */
  readonly graceful?: boolean;
}

/** The outcome record of a long-lived request the shutdown closed says this. */
const SHUTDOWN_REASON = 'closed: the broker is shutting down';
/** After a cut, the turns of the event loop the cut handlers need to write their outcome records. */
const CUT_SETTLE_MS = 200;
/** How often a drain re-closes long-lived requests that started on a kept-alive connection meanwhile. */
const STREAM_SWEEP_MS = 250;

export async function startBroker(config: Config, opts: BrokerOptions = {}): Promise<RunningBroker> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!config.broker.signing_key) throw new Error('broker.signing_key is required');

  // Everything started is stopped in reverse order, on close() and when start-up fails halfway.
  const stops: (() => unknown)[] = [];
  const drains: ListenerDrain[] = [];
  let kubeRunner: Runner<K8sExecutor> | null = null;
  let closing: Promise<void> | null = null;
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop();
  };
  /** An agent-facing listener: `wire` routes its requests through a drain (graceful shutdown). */
  const serveAgents = async (server: Server | HttpsServer, address: string, wire: (drain: ListenerDrain, queues: ConnectionQueues) => void): Promise<AddressInfo> => {
    const drain = new ListenerDrain(server);
    drains.push(drain);
    const queues = new ConnectionQueues();
    wire(drain, queues);
    limitListener(server);
    server.on('clientError', (err: Error & { code?: string }, socket: import('node:stream').Duplex) => refuseUnreadable(err, socket, queues));
    const bound = await listen(server, address);
    stops.push(() => drain.drain(Date.now()));
    return bound;
  };
  try {
    const signingKey = await loadPrivateJwk(config.broker.signing_key);
    const metrics = new Metrics();
    const trust = await TrustStore.load(config.trust.issuers, {
      log,
      onRefreshError: (iss) => metrics.trustRefreshErrors.inc({ iss }),
    });
    // Issuers rotate keys without a restart: JWKS files are re-read on change, URLs re-fetched.
    const trustFollow = await trust.follow();
    stops.push(() => trustFollow.close());
    const verifier = new CertificateVerifier({
      trust,
      audience: config.broker.audience,
      principals: config.broker.principals,
      maxValidity: config.trust.max_validity,
      skew: config.trust.clock_skew,
    });
    const authority = new Authority({
      trust,
      iss: config.authority.iss,
      maxAgeCap: config.authority.max_age_cap,
      skew: config.trust.clock_skew,
      maxValidity: config.trust.max_validity,
      log,
    });
    metrics.observeAuthority(authority);
    const authoritySource = await startAuthoritySource(config, authority, { metrics, log });
    stops.push(() => authoritySource.close());
    // A missed republish is logged long before the state expires (issue 11 §6).
    const freshnessWatch = new FreshnessWatch(authority, { log });
    const freshnessTimer = setInterval(() => freshnessWatch.check(), FRESHNESS_CHECK_MS).unref();
    stops.push(() => clearInterval(freshnessTimer));
    const { sink, sinkUp } = await openSink(config.records.sink, opts.recordsOut ?? process.stdout);
    const records = await RecordWriter.open({
      brokerId: config.broker.id,
      key: { kid: signingKey.kid, privateKey: signingKey.key },
      sink,
      sign: config.records.sign,
      stateFile: config.records.state_file,
    }).catch(async (err: unknown) => {
      // The writer never owned the sink: close it here (the fluent sink would keep reconnecting).
      await sink.close().catch(() => undefined);
      throw err;
    });
    // A sink that is already failing cannot take the closing record; say so, still stop.
    stops.push(() =>
      records.close().catch((err: unknown) => log(`seb: the record stream could not be closed (the end record may be missing): ${err instanceof Error ? err.message : String(err)}`)),
    );
    // `seb op capture` executes no mutation, so it counts nothing and needs no shared store.
    const ledger = opts.capture ? new MemoryLedger() : await openLedger(config.replay.store, log);
    stops.push(() => ledger.close());
    metrics.observeLedger(ledger);
    // The drift probes' pool; forwarded requests go through their lane's own pool (lanes.ts).
    const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 128 });
    stops.push(() => dispatcher.close());

    let awsAddress: AddressInfo | null = null;
    if (config.aws) {
      // Each target's heavy modules (the AWS SDK, X.509) load only when that target is served.
      const { AwsMinter } = await import('../identity/aws-minter.js');
      const minter = new AwsMinter({
        credentials: config.aws.credentials,
        endpoint: resolveEndpoint('sts', opts.stsRegion ?? DEFAULT_STS_REGION, config.aws.endpoints),
        brokerId: config.broker.id,
        mode: config.aws.mint,
      });
      stops.push(() => minter.close());
      const lanes = new Lanes(config.limits);
      stops.push(() => lanes.close());
      const target = new AwsTarget({ config, aws: config.aws, minter, dispatcher, mintCached: (cached) => metrics.mintCache.inc({ result: cached ? 'hit' : 'miss' }) });
      const capture = opts.capture ? { capture: opts.capture, ...(opts.captureAccount ? { captureAccount: opts.captureAccount } : {}) } : {};
      const handler = new Runner(target, { lanes, log, config, verifier, authority, ledger, records, metrics, ...capture });
      const server = createServer(agentServerOptions(config.limits.request_timeout));
      awsAddress = await serveAgents(server, config.listen.aws, (drain, queues) => {
        server.on('request', drain.requests(queues.requests(handler.handle)));
        server.on('checkContinue', drain.requests(queues.requests(handler.handle)));
      });
    }

    const admin = createServer(
      adminHandler({
        metrics,
        jwks: { keys: [signingKey.publicJwk] },
        readiness: () => ({ trust: true, authority: authority.fresh(), records: records.healthy() && sinkUp(), replay: ledger.healthy(), accepting: closing === null }),
      }),
    );
    let kubeAddress: AddressInfo | null = null;
    if (config.kube) {
      const upstream = await kubeUpstream(config.kube, log);
      stops.push(() => upstream.close());
      const lanes = new Lanes(config.limits, { connect: upstream.tls });
      stops.push(() => lanes.close());
      const handler = new Runner(new KubeTarget(config, upstream), { config, verifier, authority, ledger, records, metrics, lanes, log, ...(opts.capture ? { capture: opts.capture } : {}) });
      kubeRunner = handler;
      const { host } = parseListen(config.listen.kube);
      const { tls, localCaPem } = await kubeServing(config.kube.tls, host);
      const server = createHttpsServer({ ...tls, ...agentServerOptions(config.limits.request_timeout) });
      kubeAddress = await serveAgents(server, config.listen.kube, (drain, queues) => {
        server.on('request', drain.requests(queues.requests(handler.handle)));
        // As on the aws listener: the certificate is checked before the client sends its body.
        server.on('checkContinue', drain.requests(queues.requests(handler.handle)));
        server.on('upgrade', drain.upgrades(handler.upgrade));
      });
      if (localCaPem !== null) {
        // SPEC §1: the agent gets the CA bundle and a ready kubeconfig (its token: the certificate).
        const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
        const server = `https://${reachable.includes(':') ? `[${reachable}]` : reachable}:${kubeAddress.port}`;
        await writeClientDir(config.kube.client_dir, { server, caPem: localCaPem });
        log(`seb: kube client files in ${config.kube.client_dir} (kubeconfig, ca.crt)`);
      }
    }

    const adminAddress = await listen(admin, config.listen.admin);
    stops.push(() => closeServer(admin));

    const shutDown = async (deadline: number): Promise<void> => {
      const drained = Promise.all(drains.map((d) => d.drain(deadline)));
      const streams = kubeRunner;
      streams?.closeStreams(SHUTDOWN_REASON);
      const sweep = streams ? setInterval(() => streams.closeStreams(SHUTDOWN_REASON), STREAM_SWEEP_MS) : null;
      const clean = (await drained).every(Boolean);
      if (sweep) clearInterval(sweep);
      // Handlers write their outcome records as their responses end; those must precede the end record.
      await new Promise((resolve) => setTimeout(resolve, clean ? 0 : CUT_SETTLE_MS));
      await stopAll();
    };
    const close = (o: CloseOptions = {}): Promise<void> => {
      const deadline = Date.now() + (o.graceful ? config.limits.request_timeout * 1000 : 0);
      if (closing) {
        for (const d of drains) void d.drain(deadline);
        return closing;
      }
      closing = shutDown(deadline);
      return closing;
    };
    return { aws: awsAddress, kube: kubeAddress, admin: adminAddress, records, close };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The kube listener's serving certificate: the configured one, or else a CA made at start and a
 * serving certificate it issues, whose CA the agent is handed (SPEC §1; `localCaPem`, else null).
 */
async function kubeServing(configured: { readonly cert: string; readonly key: string } | null, host: string): Promise<{ tls: { cert: string | Buffer; key: string | Buffer }; localCaPem: string | null }> {
  if (configured) return { tls: { cert: await readFile(configured.cert), key: await readFile(configured.key) }, localCaPem: null };
  const { makeLocalCa, issueServingCert } = await import('../targets/kube/local-pki.js');
  const ca = await makeLocalCa('seb local CA');
  const hosts = [...new Set([host, '127.0.0.1', '::1', 'localhost'].filter((h) => h !== '0.0.0.0' && h !== '::'))];
  const serving = await issueServingCert(ca, hosts);
  return { tls: { cert: serving.certPem, key: serving.keyPem }, localCaPem: ca.certPem };
}

async function closeServer(server: Server | HttpsServer): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

/**
 * The configured record sink (SPEC §8), and whether it can write: the writer's health follows its
 * last write; a fluent sink also knows when its connection is down between writes (SPEC §1 /readyz).
 */
async function openSink(choice: Config['records']['sink'], out: NodeJS.WritableStream): Promise<{ sink: RecordSink; sinkUp: () => boolean }> {
  if (choice === 'stdout') return { sink: stdoutSink(out), sinkUp: () => true };
  if ('file' in choice) return { sink: await fileSink(choice.file), sinkUp: () => true };
  const sink = fluentSink(choice.fluent);
  return { sink, sinkUp: () => sink.healthy() };
}

/** `host:port`, `[v6]:port`; port 0 picks a free one (tests, `seb op capture`). */
export function parseListen(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!m) throw new Error(`bad listen address ${address}`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

function listen(server: Server | HttpsServer, address: string): Promise<AddressInfo> {
  const { host, port } = parseListen(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
