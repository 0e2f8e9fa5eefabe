/**
 * Real local peers (moto, the aws CLI, kubectl) are required, never optional: a test that needs one
 * fails with a message saying how to install it, instead of skipping and passing silently.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** Absolute path of `cmd` on PATH, or throws `<cmd> is not installed: <installHint>`. */
export function requirePeer(cmd: string, installHint: string): string {
  const dirs = isAbsolute(cmd) ? [''] : (process.env['PATH'] ?? '').split(delimiter);
  for (const dir of dirs) {
    if (isAbsolute(cmd)) {
      try {
        accessSync(cmd, constants.X_OK);
        return cmd;
      } catch {
        break;
      }
    }
    if (dir === '') continue;
    const candidate = join(isAbsolute(dir) ? dir : resolve(dir), cmd);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not in this directory; keep looking.
    }
  }
  throw new Error(`${cmd} is not installed: ${installHint}`);
}

export const INSTALL_HINTS = {
  moto_server: "pip install 'moto[server]'",
  aws: 'pip install awscli',
  kubectl: 'apt-get install kubectl',
  'redis-server': 'apt-get install redis-server',
  python3: 'apt-get install python3',
  botocore: 'pip install botocore (the aws CLI v1 installs it too)',
} as const;
