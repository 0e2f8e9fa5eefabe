/**
 * The Docker engine CI starts (.ci/docker-engine.sh) and the images it builds (.ci/images.sh), for
 * the tests that run the images themselves. Missing, they fail with how to make them.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { requirePeer } from './peers.js';

const run = promisify(execFile);
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
export const BROKER_IMAGE = `ghcr.io/seb-broker/seb:${VERSION}`;
export const INIT_IMAGE = `ghcr.io/seb-broker/seb-init:${VERSION}`;
const HINT = 'run `eval "$(.ci/prepare.sh)"` as root (Debian: docker.io, mmdebstrap): it starts the engine, builds the images and exports SEB_DOCKER_HOST';

export interface Docker {
  /** `docker <args>`; rejects with its stderr on a non-zero exit. */
  (args: readonly string[]): Promise<string>;
  readonly bin: string;
  readonly env: NodeJS.ProcessEnv;
}

/** The CI engine's client with the given images present, or throws with the install hint. */
export async function requireDocker(images: readonly string[]): Promise<Docker> {
  // Debian's client matches its 20.10 engine; a newer client elsewhere on PATH may not.
  const bin = requirePeer('/usr/bin/docker', `apt-get install docker.io; ${HINT}`);
  const host = process.env['SEB_DOCKER_HOST'];
  if (!host) throw new Error(`SEB_DOCKER_HOST is not set: ${HINT}`);
  const env = { ...process.env, DOCKER_HOST: host };
  const docker = Object.assign(
    async (args: readonly string[]) => (await run(bin, args, { env, maxBuffer: 64 * 1024 * 1024 })).stdout,
    { bin, env },
  );
  await docker(['version']).catch((err: Error) => {
    throw new Error(`no Docker engine answers at ${host} (${err.message.split('\n')[0]}): ${HINT}`);
  });
  for (const image of images) {
    await docker(['image', 'inspect', image]).catch(() => {
      throw new Error(`the image ${image} is not built: ${HINT}`);
    });
  }
  return docker;
}
