/**
 * Real local peers (moto, the aws CLI, kubectl) are required, never optional: a test that needs one
 * fails with a message saying how to install it, instead of skipping and passing silently.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** A shim is a few lines of bash; anything larger is the tool itself (kubectl is 50 MB). */
const SHIM_MAX_BYTES = 4_096;
const PYENV_SHIM = /^exec "([^"]+)" exec "\$program" "\$@"$/m;
const PYENV_ROOT = /^export PYENV_ROOT="([^"]+)"$/m;

const resolved = new Map<string, string>();

/**
 * pyenv installs each Python tool (the aws CLI, moto_server) as a shim, a bash script that runs
 * `pyenv exec` to pick the Python version: about half a second of CPU per call before the tool
 * starts, as much as the aws CLI's own start-up, and the command matrix alone starts some 130 CLIs.
 * The shim is asked once, through the pyenv it would run, which executable it runs.
 */
function unshim(path: string, cmd: string): string {
  if (statSync(path).size > SHIM_MAX_BYTES) return path;
  const shim = readFileSync(path, 'utf8');
  const pyenv = PYENV_SHIM.exec(shim)?.[1];
  if (pyenv === undefined) return path;
  const root = PYENV_ROOT.exec(shim)?.[1];
  return execFileSync(pyenv, ['which', cmd], { encoding: 'utf8', env: root === undefined ? process.env : { ...process.env, PYENV_ROOT: root } }).trim();
}

/**
 * Absolute path of the executable `cmd` on PATH runs (past a pyenv shim), or throws
 * `<cmd> is not installed: <installHint>`.
 */
export function requirePeer(cmd: string, installHint: string): string {
  let path = resolved.get(cmd);
  if (path === undefined) {
    path = unshim(findPeer(cmd, installHint), cmd);
    resolved.set(cmd, path);
  }
  return path;
}

function findPeer(cmd: string, installHint: string): string {
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
