/**
 * Peers for the live-authority tests: a stand-in apiserver where the broker's own identity may also
 * read ConfigMaps (the ConfigMap authority source), and a way for the test, as the issuer, to write
 * the authority ConfigMap.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startStandInApiserver } from '../../src/dev/apiserver/server.js';
import { findResource } from '../../src/dev/apiserver/resources.js';
import type { KubeObject } from '../../src/dev/apiserver/store.js';
import { issueServingCert, makeLocalCa } from '../../src/targets/kube/local-pki.js';
import { ADMIN_TOKEN, BROKER_TOKEN, type KubeWorld } from './kube.js';

export const AUTHORITY_CM = { namespace: 'seb-system', name: 'seb-authority', key: 'state.jws' } as const;

export interface AuthorityKubeWorld extends KubeWorld {
  /** Writes `jws` into the authority ConfigMap (created on first use), as the issuer would. */
  publish(jws: string): void;
  /** Deletes the authority ConfigMap. */
  remove(): void;
}

/** The same world as helpers/kube.ts startKubeWorld, plus RBAC for the broker to get, list and watch ConfigMaps. */
export async function startAuthorityKubeWorld(dir: string): Promise<AuthorityKubeWorld> {
  const ca = await makeLocalCa('stand-in apiserver CA');
  const tls = await issueServingCert(ca, ['127.0.0.1']);
  const caPath = join(dir, 'apiserver-ca.crt');
  writeFileSync(caPath, ca.certPem);
  const api = await startStandInApiserver({
    tls,
    tokens: { [BROKER_TOKEN]: { user: 'seb-broker', groups: [] }, [ADMIN_TOKEN]: { user: 'admin', groups: ['system:masters'] } },
    impersonators: ['seb-broker'],
    rbac: {
      'seb-broker': [{ verbs: ['get', 'list', 'watch'], resources: ['configmaps'] }],
      'system:masters': [{ verbs: ['*'], resources: ['*'] }],
      'seb:executors': [{ verbs: ['*'], resources: ['*'] }],
      'seb:reader': [{ verbs: ['get', 'list', 'watch'], resources: ['*'] }],
    },
  });
  const kubeconfig = (name: string, token: string): string => {
    const path = join(dir, `${name}.kubeconfig`);
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'standin', cluster: { server: api.url, 'certificate-authority': caPath } }],
        users: [{ name, user: { token } }],
        contexts: [{ name, context: { cluster: 'standin', user: name } }],
        'current-context': name,
      }),
    );
    return path;
  };
  const namespaces = findResource('', 'v1', 'namespaces')!;
  const configmaps = findResource('', 'v1', 'configmaps')!;
  api.store.create(namespaces, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: AUTHORITY_CM.namespace } });
  const { namespace, name, key } = AUTHORITY_CM;
  return {
    api,
    brokerKubeconfig: kubeconfig('broker', BROKER_TOKEN),
    adminKubeconfig: kubeconfig('admin', ADMIN_TOKEN),
    close: () => api.close(),
    publish(jws) {
      const object: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { [key]: jws } };
      if (api.store.get(configmaps, namespace, name)) api.store.update(configmaps, namespace, name, object);
      else api.store.create(configmaps, namespace, object);
    },
    remove() {
      api.store.delete(configmaps, namespace, name);
    },
  };
}
