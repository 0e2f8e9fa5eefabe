/**
 * A private redis-server for the shared replay ledger tests: a free loopback port, a password the
 * test generates (also written to a file, for `replay.store.redis.password_file`) and no config
 * file. By default it persists as the broker requires (appendonly yes, appendfsync always,
 * maxmemory-policy noeviction; src/replay/redis-persistence.ts); `persistence: 'rdb'` is Redis's
 * own default instead (snapshots only, taken here when the test says SAVE). Callers must register
 * `stop` with `t.teardown`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { INSTALL_HINTS, requirePeer } from './peers.js';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** Another process may take the free port between the probe and redis-server's bind. */
const PORT_ATTEMPTS = 3;
const OUTPUT_TAIL_CHARS = 2_000;

export interface TestRedisOptions {
  readonly persistence?: 'aof' | 'rdb';
}

export interface TestRedis {
  /** `redis://127.0.0.1:PORT`, without the password (as `replay.store.redis.url` wants it). */
  readonly url: string;
  readonly password: string;
  readonly passwordFile: string;
  /** A client for the test itself (inspect keys, FLUSHALL); the caller quits it. */
  client(): Redis;
  /** SIGSTOP: the store hangs, connections stay open and nothing answers. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGKILL: the store crashes and forgets everything; resolves when the process is gone. */
  kill(): Promise<void>;
  /**
   * Starts it again on the same port and password (after kill()): empty, as a store that lost its
   * disk, or with `keepData` from what it had persisted (its AOF, or its last RDB snapshot).
   */
  restart(o?: { readonly keepData?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(o: TestRedisOptions = {}): Promise<TestRedis> {
  const bin = requirePeer('redis-server', INSTALL_HINTS['redis-server']);
  const dir = mkdtempSync(join(tmpdir(), 'seb-redis-'));
  const password = randomBytes(24).toString('base64url');
  const passwordFile = join(dir, 'redis.pass');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  // The password file stays beside the data directory, which restart() may empty.
  const data = join(dir, 'data');
  const persistence = o.persistence ?? 'aof';

  let port = 0;
  let child: ChildProcess | null = null;
  try {
    for (let attempt = 1; child === null; attempt++) {
      port = await freePort();
      try {
        child = await launchOn(bin, port, password, data, persistence);
      } catch (err) {
        if (attempt >= PORT_ATTEMPTS || !/Address already in use/i.test(String(err))) throw err;
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const signal = (sig: NodeJS.Signals): void => void child?.kill(sig);
  const gone = async (sig: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGCONT');
    c.kill(sig);
    const timer = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    password,
    passwordFile,
    client: () => {
      const client = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: 1, disableClientInfo: true });
      // The tests kill and restart the store on purpose; its reconnect errors are expected.
      client.on('error', () => undefined);
      return client;
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    kill: () => gone('SIGKILL'),
    restart: async (r = {}) => {
      await gone('SIGKILL');
      if (r.keepData !== true) rmSync(data, { recursive: true, force: true });
      child = await launchOn(bin, port, password, data, persistence);
    },
    stop: async () => {
      await gone('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts redis-server on `port` and waits until it answers our password, or fails with its output. */
async function launchOn(bin: string, port: number, password: string, dir: string, persistence: 'aof' | 'rdb'): Promise<ChildProcess> {
  mkdirSync(dir, { recursive: true });
  // 'rdb': no automatic snapshot either, so the only snapshot is the one the test SAVEs.
  const durable = persistence === 'aof' ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', ...durable, '--maxmemory-policy', 'noeviction', '--dir', dir, '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer): void => void (output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}): ${output}`);
    if (/Ready to accept connections/.test(output)) {
      // Our password proves it is our server on that port, not some other process.
      const probe = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, disableClientInfo: true });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return child;
      } catch {
        // Not answering yet; poll again.
      } finally {
        probe.disconnect();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms: ${output}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
