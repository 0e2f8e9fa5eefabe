// Record sink faults (SPEC §8 write-ahead: "the decision record is accepted by the sink before the
// request is forwarded; if that fails, the request is denied audit_unavailable"): a sink that
// blocks, one that is full, one that is closed. In process with a stdout the test controls; with
// the real file sink on a named pipe that stops being read and then closes; `seb run` whose stdout
// collector goes away (EPIPE); and a file sink on /dev/full at start. Nothing is admitted without
// its record, nothing goes upstream, the client reads 503 audit_unavailable in its own format,
// /readyz says so, and once the sink works again the lines it held or refused are written in
// chain order and requests are admitted again.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, createReadStream, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { startBroker } from '../../src/server/broker.js';
import { STALL_MS } from '../../src/records/writer.js';
import { SEB } from '../helpers/seb-run.js';
import { until } from '../helpers/until.js';
import { exchange } from '../helpers/raw-http.js';
import { expectAuditTrail, expectDenied, expectHealthy, startWorld, type TargetKind } from './world.js';

/**
 * The broker's stdout as a test controls it: takes lines, holds them (a pipe nobody reads), or
 * fails them (ENOSPC: full; EPIPE: the reader is gone). Only the surface the stdout sink uses.
 */
class ControlledOut {
  mode: 'ok' | 'block' | 'full' | 'closed' = 'ok';
  readonly lines: string[] = [];
  readonly #held: (() => void)[] = [];
  on(): this {
    return this;
  }
  write(chunk: string, cb?: (err?: Error | null) => void): boolean {
    const take = (): void => {
      this.lines.push(...chunk.split('\n').filter(Boolean));
      cb?.(null);
    };
    if (this.mode === 'block') this.#held.push(take);
    else if (this.mode === 'ok') setImmediate(take);
    else {
      const code = this.mode === 'full' ? 'ENOSPC' : 'EPIPE';
      setImmediate(() => cb?.(Object.assign(new Error(`${code}: write failed`), { code })));
    }
    return true;
  }
  /** Works again: what it held goes through, in order. */
  recover(): void {
    this.mode = 'ok';
    for (const take of this.#held.splice(0)) take();
  }
}

const out = new ControlledOut();
const w = await startWorld({ kube: true, records: { out: out as unknown as NodeJS.WritableStream, lines: out.lines } });
t.teardown(async () => {
  out.recover();
  await w.close();
});

const readyz = async (): Promise<{ status: number; body: unknown }> => {
  const r = await fetch(`${w.tb.adminUrl}/readyz`);
  return { status: r.status, body: await r.json() };
};
const send = (target: TargetKind, name: string, jws: string, timeoutMs = 10_000) => (target === 'aws' ? w.put(name, jws, { timeoutMs }) : w.create(name, jws, { timeoutMs }));
const certFor = (target: TargetKind, name: string) => (target === 'aws' ? w.putCert(name) : w.createCert(name));

/** A refused request, then the same single-use certificate once the sink works again. */
async function refusedThenAdmitted(t: Test, mode: 'block' | 'full' | 'closed'): Promise<void> {
  const sent: { target: TargetKind; name: string; jws: string; jti: string }[] = [];
  for (const target of ['aws', 'k8s'] as const) {
    const name = `sink-${mode}-${target}`;
    sent.push({ target, name, ...(await certFor(target, name)) });
  }
  const before = w.mutations();
  out.mode = mode;
  for (const [i, s] of sent.entries()) {
    const started = Date.now();
    const r = await send(s.target, s.name, s.jws, STALL_MS + 10_000);
    const took = Date.now() - started;
    await expectDenied(t, w, r, { target: s.target, status: 503, reason: 'audit_unavailable', certId: s.jti, recorded: false });
    // Issue 11 §7: the sink's own error text is for the log, not the agent.
    t.notMatch(r.responses[0]?.body ?? '', /ENOSPC|EPIPE|write failed/, "the agent does not read the sink's error");
    // A blocked sink is given STALL_MS; after that, while it still blocks, refusals are immediate.
    if (mode === 'block' && i === 0) t.ok(took >= STALL_MS - 200 && took < STALL_MS + 4_000, `refused once the sink stalled for ${STALL_MS} ms (${took} ms)`);
    else t.ok(took < 2_000, `refused at once (${took} ms)`);
  }
  const ready = await readyz();
  t.equal(ready.status, 503, '/readyz is 503 while the sink fails');
  t.match(ready.body, { checks: { records: false } });
  t.equal(w.mutations(), before, 'nothing reached the upstreams');

  out.recover();
  t.ok(await until(async () => (await readyz()).status === 200, 5_000), '/readyz recovers by itself (the refused lines are retried)');
  for (const s of sent) {
    const r = await send(s.target, s.name, s.jws);
    t.equal(r.responses[0]?.status, s.target === 'aws' ? 200 : 201, `${s.target}: the same certificate is admitted now: its use was given back`);
    t.equal(r.responses[0]?.headers['x-seb-decision'], 'admit');
  }
  for (const s of sent) {
    const recs = w.records().filter((r) => r.type === 'decision' && r.certificate?.jti === s.jti);
    // The refused admit line was kept (the chain runs through it) and written late, as README "Records" says.
    t.match(
      recs.map((r) => `${r.decision}${r.reason ? `:${r.reason}` : ''}`),
      ['admit', 'deny:audit_unavailable', 'admit'],
      `${s.target}: the stream reads admit (refused), deny audit_unavailable, admit`,
    );
    const [refused, , admitted] = recs;
    if (refused) t.notOk(w.records().some((r) => r.type === 'outcome' && r.decision_seq === refused.seq), 'the refused admit has no outcome: it never went upstream');
    if (admitted) t.match(await w.outcomeOf(admitted.seq), { status: s.target === 'aws' ? 200 : 201 }, 'the one that went upstream has its outcome');
  }
}

t.test('a sink that blocks (a stdout pipe nobody reads): refused after the stall bound, then at once', (t) => refusedThenAdmitted(t, 'block'));
t.test('a sink that is full (ENOSPC)', (t) => refusedThenAdmitted(t, 'full'));
t.test('a sink that is closed (EPIPE)', (t) => refusedThenAdmitted(t, 'closed'));

t.test('the broker is healthy afterwards', async (t) => {
  await expectHealthy(t, w, 'aws');
  await expectHealthy(t, w, 'k8s');
});

// Six admits were refused by the sink above (two per fault); they have no outcome by design. The
// brokers below share the fake upstream, so this comes first.
t.test('audit trail of the in-process broker', (t) => expectAuditTrail(t, w, { refusedAdmits: 6 }));

t.test('a file sink on /dev/full: the broker does not start, and says why', async (t) => {
  const path = join(w.tb.dir, 'dev-full.yaml');
  const config = parse(readFileSync(w.tb.configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, stringify({ ...config, kube: undefined, records: { sink: { file: '/dev/full' } } }));
  await t.rejects(startBroker(await loadConfigFile(path), { log: () => undefined }), /ENOSPC/, 'start-up fails: the start record cannot be written');
});

// ---------------------------------------------------------------------------------------------
// The real sinks: the file sink on a pipe that stops being read, then closes; `seb run` whose
// stdout collector goes away.

const READY = /seb: broker .*; aws on ([^;\s]+); admin on (\S+)/;

async function sebRun(t: Test, config: Record<string, unknown>): Promise<{ aws: number; admin: string; stdout: () => string; stderr: () => string; child: ReturnType<typeof spawn> }> {
  const path = join(w.tb.dir, `run-${Math.random().toString(36).slice(2, 8)}.yaml`);
  const base = parse(readFileSync(w.tb.configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, stringify({ ...base, kube: undefined, ...config }));
  const child = spawn(process.execPath, [SEB, 'run', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
  });
  t.ok(await until(() => READY.test(stderr) || child.exitCode !== null, 30_000), 'seb run started');
  const m = READY.exec(stderr);
  if (!m) throw new Error(`seb run did not start: ${stderr}`);
  return { aws: Number(m[1]!.split(':').pop()), admin: `http://${m[2]}`, stdout: () => stdout, stderr: () => stderr, child };
}

t.test('file sink on a FIFO: the reader stops (the sink blocks), resumes, then goes away (EPIPE)', async (t) => {
  // The real file sink, on a named pipe the test reads: a stand-in for a file on a hung mount.
  const fifo = join(w.tb.dir, 'records.fifo');
  t.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  const lines: string[] = [];
  let partial = '';
  const reader = createReadStream(fifo);
  reader.on('data', (c: Buffer | string) => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  reader.on('error', () => undefined);
  const path = join(w.tb.dir, 'fifo.yaml');
  const config = parse(readFileSync(w.tb.configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, stringify({ ...config, kube: undefined, records: { sink: { file: fifo } } }));
  const broker = await startBroker(await loadConfigFile(path), { log: () => undefined });
  t.teardown(async () => {
    reader.destroy();
    await broker.close();
  });
  const target = { port: broker.aws!.port };
  const admin = `http://127.0.0.1:${broker.admin.port}`;
  const before = w.mutations();

  reader.pause();
  // Records pile up in the pipe (64 KiB) until a write cannot complete: that request is refused.
  let admitted = 0;
  let refused: { jti: string; ms: number } | null = null;
  for (let i = 0; i < 200 && refused === null; i++) {
    const { jws, jti } = await w.putCert(`fifo-${i}`);
    const started = Date.now();
    const r = await exchange(target, w.putBytes(`fifo-${i}`, jws), { timeoutMs: STALL_MS + 10_000 });
    if (r.responses[0]?.status === 200) admitted++;
    else {
      t.equal(r.responses[0]?.headers['x-seb-reason'], 'audit_unavailable', 'refused audit_unavailable');
      t.match(r.responses[0]?.body, `seb denied the request: audit_unavailable (certificate ${jti})`);
      refused = { jti, ms: Date.now() - started };
    }
  }
  t.ok(refused, `the pipe filled after ${admitted} admitted requests, and the next one was refused`);
  t.ok(refused && refused.ms >= STALL_MS - 200 && refused.ms < STALL_MS + 4_000, `after the stall bound (${refused?.ms} ms)`);
  t.equal(w.mutations() - before, admitted, 'only the admitted requests reached the upstream');
  t.equal((await fetch(`${admin}/readyz`)).status, 503, '/readyz is 503 while the sink blocks');

  reader.resume();
  t.ok(await until(async () => (await fetch(`${admin}/readyz`)).status === 200, 5_000), 'the reader resumed: ready again');
  const { jws, jti } = await w.putCert('fifo-after');
  const again = await exchange(target, w.putBytes('fifo-after', jws));
  t.equal(again.responses[0]?.status, 200, 'admitted again');
  t.ok(await until(() => lines.some((l) => l.includes(jti))), 'its record came through the pipe');
  const seqs = lines.map((l) => (JSON.parse(l) as { seq: number }).seq);
  t.same(seqs, seqs.map((_, i) => i), 'every line came through, in order, none lost while the sink blocked');

  // Only once the read end is closed does the kernel answer the next write with EPIPE; a fixed
  // pause was not always long enough under load. A read the stream has pending on the pipe (it runs
  // on libuv's thread pool) holds the close until bytes arrive, so the test writes one newline to
  // let it finish; the stream is destroyed, so nothing reads it as a record.
  const nudge = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  const closed = new Promise<void>((r) => reader.once('close', () => r()));
  reader.destroy();
  try {
    writeSync(nudge, '\n');
  } catch {
    // EPIPE: the read end was closed already, which is what the test waits for.
  }
  await closed;
  closeSync(nudge);
  const gone = await w.putCert('fifo-gone');
  const r = await exchange(target, w.putBytes('fifo-gone', gone.jws));
  t.equal(r.responses[0]?.headers['x-seb-reason'], 'audit_unavailable', 'the reader is gone: refused audit_unavailable (EPIPE)');
  t.equal(w.mutations() - before, admitted + 1, 'nothing more went upstream');
  t.equal((await fetch(`${admin}/healthz`)).status, 200, 'the broker is still up');
});

t.test('seb run, stdout sink, the collector goes away (EPIPE): audit_unavailable, no crash', async (t) => {
  const run = await sebRun(t, {});
  const target = { port: run.aws };
  const { jws: first, jti: firstJti } = await w.putCert('epipe-0');
  const ok = await exchange(target, w.putBytes('epipe-0', first));
  t.equal(ok.responses[0]?.status, 200, 'admitted while the collector reads');
  t.ok(await until(() => run.stdout().includes(firstJti)), 'its records were on stdout');
  const before = w.mutations();
  run.child.stdout!.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const { jws, jti } = await w.putCert('epipe-1');
  const r = await exchange(target, w.putBytes('epipe-1', jws), { timeoutMs: STALL_MS + 10_000 });
  t.equal(r.responses[0]?.status, 503);
  t.equal(r.responses[0]?.headers['x-seb-reason'], 'audit_unavailable');
  t.match(r.responses[0]?.body, `seb denied the request: audit_unavailable (certificate ${jti})`);
  t.equal(w.mutations(), before, 'nothing went upstream');
  t.equal(run.child.exitCode, null, 'the broker is still running');
  t.equal((await fetch(`${run.admin}/healthz`)).status, 200, '/healthz answers');
  t.equal((await fetch(`${run.admin}/readyz`)).status, 503, '/readyz is 503');
});

