/**
 * A stand-in apiserver and a test broker in front of it, in a fresh directory, all removed in the
 * test's teardown. Apart from ./kube.ts, which unit tests import without a broker.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startTestBroker, type TestBroker } from './broker.js';
import { kubeBrokerConfig, startKubeWorld, type KubeWorld, type KubeWorldOptions } from './kube.js';

export interface KubeBroker {
  readonly dir: string;
  readonly world: KubeWorld;
  /** Holds the agent's `kubeconfig`. */
  readonly clientDir: string;
  readonly tb: TestBroker;
}

export async function startKubeBroker(t: Test, prefix: string, options: KubeWorldOptions = {}): Promise<KubeBroker> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const world = await startKubeWorld(dir, options);
  t.teardown(() => world.close());
  const clientDir = join(dir, 'client');
  const tb = await startTestBroker(null, { config: kubeBrokerConfig(world, clientDir) });
  t.teardown(() => tb.close());
  return { dir, world, clientDir, tb };
}
