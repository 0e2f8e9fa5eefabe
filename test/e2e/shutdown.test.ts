// Graceful shutdown (README "Shutdown"): `seb run` under load gets SIGTERM, stops accepting, lets
// the requests in flight finish, closes its record stream and exits 0, leaving a chain that
// `seb records verify` accepts with an outcome for every admitted decision. Long-lived Kubernetes
// requests are closed at once, each with its outcome record, instead of holding the drain.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startMoto } from '../helpers/moto.js';
import { startKubeBroker } from '../helpers/kube-broker.js';
import { SEB, captureOps, makeDeployment, motoDeployment, startSebRun } from '../helpers/seb-run.js';
import { agentS3 } from '../helpers/aws-sdk.js';
import { until } from '../helpers/until.js';

/** Workers sending at once, and the most requests they send in all (each worker's op has 100 uses). */
const WORKERS = 6;
const MAX_REQUESTS = 90;
/** SIGTERM goes out once this many responses came back, so the load is well under way. */
const SIGNAL_AFTER = 20;
/** The drain bound is limits.request_timeout (30 s by default); the stop must come well before. */
const STOP_WITHIN_MS = 20_000;

type Rec = { type: string; seq: number; decision?: string; decision_seq?: number; status?: number | null };
const parse = (lines: readonly string[]): Rec[] => lines.map((l) => JSON.parse(l) as Rec);

t.test('seb run: SIGTERM under load drains, closes the stream and exits 0', async (t) => {
  const { moto, deployment } = await motoDeployment(t, 'drain');

  const agent = agentS3;
  const body = 'written under load\n';
  // One key per worker: moto's threaded server races when two PutObjects of one key overlap (the
  // second disposes the object the first is still answering for, and the first gets a 500 page).
  // Each worker sends one request at a time, so no two requests in flight share a key.
  const put = (worker: number): PutObjectCommand => new PutObjectCommand({ Bucket: 'drain', Key: `load-${worker}.txt`, Body: body });
  const configPath = deployment.config('seb-drain');
  const ops = await captureOps(configPath, moto.account, async (url) => {
    const c = agent(url, 'placeholder');
    try {
      // The capturing broker answers each mutation with an error; the op is what it keeps.
      for (let w = 0; w < WORKERS; w++) await c.send(put(w)).catch(() => undefined);
    } finally {
      c.destroy();
    }
  });
  t.equal(ops.length, WORKERS, 'one PutObject captured per worker');
  const seb = await startSebRun(configPath);
  t.teardown(() => seb.stop());
  // Issued after the broker started: its memory ledger refuses certificates older than itself.
  const { jws } = await deployment.cert(ops.map((op) => ({ ...op, max_uses: 100 })));
  const client = agent(seb.aws, jws);
  t.teardown(() => client.destroy());

  interface Sent {
    readonly started: number;
    readonly finished: number;
    readonly status: number | undefined;
    readonly message: string;
  }
  const sent: Sent[] = [];
  let signalAt = Infinity;
  const worker = async (w: number): Promise<void> => {
    while (sent.length + WORKERS <= MAX_REQUESTS) {
      const started = Date.now();
      const outcome = await client.send(put(w)).then(
        (out) => ({ status: out.$metadata.httpStatusCode, message: '' }),
        (err: { $metadata?: { httpStatusCode?: number }; message?: string }) => ({ status: err.$metadata?.httpStatusCode, message: err.message ?? String(err) }),
      );
      sent.push({ started, finished: Date.now(), ...outcome });
      if (sent.length >= SIGNAL_AFTER && signalAt === Infinity) {
        signalAt = Date.now();
        seb.child.kill('SIGTERM');
      }
      // No status: the broker no longer accepts connections; this worker is done.
      if (outcome.status === undefined) return;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  t.ok(signalAt < Infinity, `SIGTERM was sent after ${SIGNAL_AFTER} responses`);

  const code = await Promise.race([seb.exited, new Promise((r) => setTimeout(() => r('still running'), STOP_WITHIN_MS))]);
  t.equal(code, 0, 'exit status 0', { stderr: seb.stderr() });
  t.match(seb.stderr(), /seb: SIGTERM: stopping; requests in flight get up to 30 s\n[^]*seb: stopped\n/);

  const inFlight = sent.filter((s) => s.started < signalAt && s.finished > signalAt);
  t.ok(inFlight.some((s) => s.status === 200), `requests in flight at SIGTERM finished with 200 (${inFlight.map((s) => s.status).join(',')})`);
  const ok = sent.filter((s) => s.status === 200);
  t.same(
    sent.filter((s) => s.status !== 200 && s.status !== undefined),
    [],
    'nothing was refused or failed with a status: each request was served, or found the broker no longer accepting',
  );

  const recordsFile = join(deployment.dir, 'records.log');
  writeFileSync(recordsFile, seb.records.join('\n') + '\n');
  const verify = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [SEB, 'records', 'verify', '--key', deployment.brokerJwks, recordsFile], (err, stdout) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout }),
    ),
  );
  t.equal(verify.code, 0, verify.out);
  t.match(verify.out, /^ok: \d+ records in 1 streams \(1 ended\)/, 'the chain is intact and the stream is closed');

  const records = parse(seb.records);
  t.equal(records.at(-1)?.type, 'end', 'the last record closes the stream');
  const admits = records.filter((r) => r.type === 'decision' && r.decision === 'admit');
  const outcomes = new Map(records.filter((r) => r.type === 'outcome').map((r) => [r.decision_seq, r]));
  t.equal(admits.length, ok.length, 'one admit record per request the client saw succeed');
  t.same(
    admits.filter((r) => outcomes.get(r.seq)?.status !== 200).map((r) => r.seq),
    [],
    'every admitted decision has its outcome record (status 200)',
  );
});

t.test('seb run: SIGTERM when the end record cannot be written exits 1, saying so once', async (t) => {
  const moto = await startMoto();
  t.teardown(() => moto.stop());
  const deployment = await makeDeployment(moto);
  t.teardown(() => deployment.close());
  const seb = await startSebRun(deployment.config('seb-lost-end'));
  t.teardown(() => seb.stop());
  t.ok(await until(() => seb.records.length > 0), 'the start record came through stdout');

  // The log collector goes away: stdout is a pipe nobody reads, so the end record meets EPIPE.
  seb.child.stdout.destroy();
  seb.child.kill('SIGTERM');
  const code = await Promise.race([seb.exited, new Promise((r) => setTimeout(() => r('still running'), STOP_WITHIN_MS))]);
  t.equal(code, 1, 'exit status 1', { stderr: seb.stderr() });
  const about = seb.stderr().split('\n').filter((l) => /record stream|end record|error while stopping/.test(l));
  t.match(about, [/^seb: the record stream could not be closed \(the end record may be missing\): \S/], 'one stderr line says why', { stderr: seb.stderr() });
  t.equal(about.length, 1, 'and only one');
  t.match(seb.stderr(), /seb: stopped\n$/, 'the stop still completed');
});

t.test('a graceful close ends open watches at once, each with an outcome record', async (t) => {
  const { clientDir, tb } = await startKubeBroker(t, 'seb-shutdown-');

  // A watch is a read: it needs no certificate, and it streams until something ends it. Namespaces
  // exist from the start, so their ADDED events open the stream at once.
  let received = '';
  let streaming!: () => void;
  const headers = new Promise<void>((resolve) => (streaming = resolve));
  const ended = new Promise<void>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: tb.broker.kube!.port, path: '/api/v1/namespaces?watch=true', ca: readFileSync(join(clientDir, 'ca.crt')) },
      (res) => {
        t.equal(res.statusCode, 200, 'the watch is streaming');
        res.on('data', (c: Buffer) => (received += c.toString('utf8')));
        res.on('close', () => resolve());
        streaming();
      },
    );
    req.on('error', reject);
    req.end();
  });
  await headers;

  const started = Date.now();
  await tb.broker.close({ graceful: true });
  await ended;
  t.ok(Date.now() - started < 5_000, `closed in ${Date.now() - started} ms, not after the 30 s drain bound`);

  const records = parse(tb.records);
  const watch = records.find((r) => r.type === 'decision' && r.decision === 'read');
  t.ok(watch, 'the watch has its decision record');
  const outcome = records.find((r) => r.type === 'outcome' && r.decision_seq === watch?.seq);
  t.match(outcome, { status: 200, error: /./ }, 'and an outcome record saying it was cut');
  t.match(received, /"type":"ERROR".*closed: the broker is shutting down/, 'the client is told why, as a watch ERROR event');
  t.equal(records.at(-1)?.type, 'end', 'the stream is closed after it');
});
