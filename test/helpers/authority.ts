/**
 * Peers for the live-authority tests: a stand-in apiserver where the broker's own identity may also
 * read ConfigMaps (the ConfigMap authority source), and a way for the test, as the issuer, to write
 * the authority ConfigMap.
 */
import { findResource } from '../../src/dev/apiserver/resources.js';
import type { KubeObject } from '../../src/dev/apiserver/store.js';
import { startKubeWorld, type KubeWorld } from './kube.js';
import { Authority } from '../../src/authority/state.js';
import type { TrustStore } from '../../src/certificate/trust.js';
import { TEST_ISS } from './pki.js';

export const AUTHORITY_CM = { namespace: 'seb-system', name: 'seb-authority', key: 'state.jws' } as const;

export interface AuthorityKubeWorld extends KubeWorld {
  /** Writes `jws` into the authority ConfigMap (created on first use), as the issuer would. */
  publish(jws: string): void;
  /** Deletes the authority ConfigMap. */
  remove(): void;
}

/** The same world as helpers/kube.ts startKubeWorld, plus RBAC for the broker to get, list and watch ConfigMaps. */
export async function startAuthorityKubeWorld(dir: string): Promise<AuthorityKubeWorld> {
  const world = await startKubeWorld(dir, { brokerRules: [{ verbs: ['get', 'list', 'watch'], resources: ['configmaps'] }] });
  const { api } = world;
  const namespaces = findResource('', 'v1', 'namespaces')!;
  const configmaps = findResource('', 'v1', 'configmaps')!;
  api.store.create(namespaces, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: AUTHORITY_CM.namespace } });
  const { namespace, name, key } = AUTHORITY_CM;
  return {
    ...world,
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

/** An Authority for source tests, with what it logged and what its source reported as problems. */
export function observedAuthority(trust: TrustStore) {
  const logs: string[] = [];
  const problems: string[] = [];
  const authority = new Authority({ trust, iss: TEST_ISS, maxAgeCap: 300, skew: 30, maxValidity: 900, log: (m) => logs.push(m) });
  return { authority, logs, problems, problem: (d: string) => problems.push(d) };
}
