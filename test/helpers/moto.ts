/**
 * The tests' moto_server: src/dev/moto.ts (shared with `seb dev`), required rather than optional,
 * so a missing moto_server fails the test with the install command. Callers must register `stop`
 * with `t.teardown`.
 */
import { startMoto as startMotoServer, type AccessKey, type Moto } from '../../src/dev/moto.js';
import { INSTALL_HINTS, requirePeer } from './peers.js';

export type { AccessKey, Moto };

export function startMoto(): Promise<Moto> {
  return startMotoServer(requirePeer('moto_server', INSTALL_HINTS.moto_server));
}
