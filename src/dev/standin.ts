/**
 * The Kubernetes upstream of `seb dev`: the stand-in apiserver (src/dev/apiserver) on a free
 * loopback port, with a TLS certificate from a CA made here, one bearer token for the broker, and
 * RBAC as in the deployment model (SPEC §11): the broker may only impersonate; the executors' group
 * may do anything, the reader only get, list and watch. Seeded with the namespace `demo`.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { findResource } from './apiserver/resources.js';
import { startStandInApiserver, type StandInApiserver } from './apiserver/server.js';
import { issueServingCert, makeLocalCa } from '../targets/kube/local-pki.js';

export const DEMO_NAMESPACE = 'demo';
/** The identity the broker forwards as, and the groups its executors are impersonated into. */
const BROKER_USER = 'seb-broker';
export const EXECUTORS_GROUP = 'seb:executors';
export const READER_GROUP = 'seb:reader';

export interface DevApiserver {
  readonly api: StandInApiserver;
  /** The broker's own kubeconfig (`kube.kubeconfig`): its token may impersonate, nothing else. */
  readonly brokerKubeconfig: string;
  close(): Promise<void>;
}

export async function startDevApiserver(dir: string): Promise<DevApiserver> {
  const ca = await makeLocalCa('seb dev apiserver CA');
  const tls = await issueServingCert(ca, ['127.0.0.1']);
  // A fresh token per start: nothing outside this sandbox knows it.
  const token = randomBytes(24).toString('base64url');
  const api = await startStandInApiserver({
    tls,
    tokens: { [token]: { user: BROKER_USER, groups: [] } },
    impersonators: [BROKER_USER],
    rbac: {
      [EXECUTORS_GROUP]: [{ verbs: ['*'], resources: ['*'] }],
      [READER_GROUP]: [{ verbs: ['get', 'list', 'watch'], resources: ['*'] }],
    },
  });
  try {
    const namespaces = findResource('', 'v1', 'namespaces')!;
    api.store.create(namespaces, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEMO_NAMESPACE } });
    const caPath = join(dir, 'apiserver-ca.crt');
    await writeFile(caPath, ca.certPem);
    const brokerKubeconfig = join(dir, 'apiserver.kubeconfig');
    const kubeconfig = stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'seb-dev-apiserver', cluster: { server: api.url, 'certificate-authority': caPath } }],
      users: [{ name: BROKER_USER, user: { token } }],
      contexts: [{ name: 'seb-dev', context: { cluster: 'seb-dev-apiserver', user: BROKER_USER } }],
      'current-context': 'seb-dev',
    });
    // Owner-only: the token is the broker's credential for the apiserver.
    await writeFile(brokerKubeconfig, kubeconfig, { mode: 0o600 });
    return { api, brokerKubeconfig, close: () => api.close() };
  } catch (err) {
    await api.close();
    throw err;
  }
}
