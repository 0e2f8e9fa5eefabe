/**
 * The agent's side of the kube listener (SPEC §1, §3): `kube.client_dir` receives the CA bundle
 * and a ready kubeconfig whose only user carries a placeholder token. The agent replaces the token
 * with its certificate, which kubectl then sends as `Authorization: Bearer <certificate>`; it does
 * so only over https (reference/k8s.md finding 1), hence the CA.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

/** The token the agent replaces with its certificate. */
export const TOKEN_PLACEHOLDER = 'REPLACE-WITH-CERTIFICATE';
export const CLUSTER_NAME = 'seb';
export const USER_NAME = 'agent';
export const CONTEXT_NAME = 'seb';

/** World-readable: the directory is mounted read-only into the agent container (SPEC §1, §11). */
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

export interface ClientDirOptions {
  /** The kube listener, `https://127.0.0.1:PORT`. */
  readonly server: string;
  readonly caPem: string;
}

export interface ClientDirPaths {
  readonly caPath: string;
  readonly kubeconfigPath: string;
}

/** Writes `ca.crt` and `kubeconfig` into `dir` (created if missing), each atomically. */
export async function writeClientDir(dir: string, opts: ClientDirOptions): Promise<ClientDirPaths> {
  const server = new URL(opts.server);
  // An http:// server would make kubectl drop the token silently (reference/k8s.md finding 1).
  if (server.protocol !== 'https:') throw new Error(`kube client server must be https: ${opts.server}`);
  const absDir = resolve(dir);
  await mkdir(absDir, { recursive: true, mode: DIR_MODE });
  const caPath = join(absDir, 'ca.crt');
  const kubeconfigPath = join(absDir, 'kubeconfig');
  // The CA first: a kubeconfig must never name a CA file that is not there yet.
  await writeAtomically(caPath, opts.caPem);
  await writeAtomically(kubeconfigPath, kubeconfigYaml(opts.server, caPath));
  return { caPath, kubeconfigPath };
}

/** The kubeconfig text; the CA is referenced by absolute path so any working directory works. */
export function kubeconfigYaml(server: string, caPath: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CLUSTER_NAME, cluster: { server, 'certificate-authority': caPath } }],
    users: [{ name: USER_NAME, user: { token: TOKEN_PLACEHOLDER } }],
    contexts: [{ name: CONTEXT_NAME, context: { cluster: CLUSTER_NAME, user: USER_NAME } }],
    'current-context': CONTEXT_NAME,
  });
}

/**
 * Temp file in the same directory, then rename: rename within one filesystem is atomic, so an
 * agent reading the file sees the old or the new content, never half of either.
 */
async function writeAtomically(path: string, content: string): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, content, { mode: FILE_MODE, flag: 'wx' });
    // writeFile's mode is filtered by the umask; the agent must be able to read the file.
    await chmod(temp, FILE_MODE);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
