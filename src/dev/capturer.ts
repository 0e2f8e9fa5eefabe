/**
 * `seb op capture` in process, for the demo: a capturing broker built from the sandbox's config
 * (free loopback ports, its own kubeconfig, records discarded: they are not the session's) that
 * stays up for several commands, each of which yields the ops its mutations need.
 */
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Op } from '../certificate/types.js';
import type { Config } from '../config/types.js';
import { startBroker } from '../server/broker.js';
import { captureConfig } from '../cli/capture.js';
import { stsRegion } from '../cli/run.js';

export interface Capturer {
  /** The kubeconfig that points kubectl at the capturing broker (placeholder token). */
  readonly kubeconfig: string;
  /** `http://127.0.0.1:PORT` of its AWS listener, null when AWS is not served. */
  readonly aws: string | null;
  /** The ops the mutations of `command` need (its own failure, the capture's refusal, is expected). */
  ops<T>(command: () => Promise<T>): Promise<{ ops: Op[]; result: T }>;
  close(): Promise<void>;
}

export async function startCapturer(config: Config, parentDir: string, account: string | undefined): Promise<Capturer> {
  const clientDir = await mkdtemp(join(parentDir, 'capture-'));
  const discard = new PassThrough();
  discard.resume();
  let captured: Op[] = [];
  const broker = await startBroker(
    captureConfig(config, clientDir),
    { recordsOut: discard, log: () => {}, ...stsRegion(process.env), capture: (op) => captured.push(op) - 1, ...(account ? { captureAccount: account } : {}) },
  );
  return {
    kubeconfig: join(clientDir, 'kubeconfig'),
    aws: broker.aws ? `http://127.0.0.1:${broker.aws.port}` : null,
    async ops(command) {
      captured = [];
      const result = await command();
      return { ops: captured, result };
    },
    close: () => broker.close(),
  };
}
