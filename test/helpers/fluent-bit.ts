/**
 * A real Fluent Bit (1.8.15, built from the devDependency's source by .ci/fluent-bit.sh) for the
 * tests: started on a config the test gives, stopped (and paused, for a stalled peer) by its pid.
 */
import { spawn } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { requirePeer } from './peers.js';
import { until } from './until.js';

export const FLUENT_BIT_HINT =
  'build it with .ci/fluent-bit.sh (Debian: cmake make gcc g++ flex bison pkg-config libyaml-dev libssl-dev libonig-dev) and set SEB_FLUENT_BIT to the path it prints';

/** The binary's path, or throws with the install hint (a missing peer fails, never skips). */
export const fluentBitBinary = (): string => requirePeer(process.env['SEB_FLUENT_BIT'] ?? 'fluent-bit', FLUENT_BIT_HINT);

export interface FluentBit {
  /** JSON lines the process printed on stdout (a stdout output with format json_lines). */
  readonly lines: string[];
  /** Everything else it printed, for failure messages. */
  readonly log: string[];
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/** Starts `fluent-bit <args>` and waits until `readyPort` (an input's port, or its HTTP port) accepts a connection. */
export async function startFluentBit(args: readonly string[], readyPort: number): Promise<FluentBit> {
  const child = spawn(fluentBitBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const log: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => (l.startsWith('{') ? lines : log).push(l));
  createInterface({ input: child.stderr }).on('line', (l) => log.push(l));
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const up = await until(() => !exited && accepts(readyPort), 20_000);
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGCONT'); // a paused process cannot act on SIGTERM
    child.kill('SIGTERM');
    await exit;
  };
  if (!up) {
    await stop();
    throw new Error(`fluent-bit did not listen on ${readyPort}:\n${log.slice(-20).join('\n')}`);
  }
  return { lines, log, pause: () => void child.kill('SIGSTOP'), resume: () => void child.kill('SIGCONT'), stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
