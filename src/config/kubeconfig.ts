/**
 * The broker's own credentials for the apiserver (SPEC §5), read from the config's kube section:
 * used by the Kubernetes target (targets/kube/upstream.ts) and the ConfigMap authority source.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeConfig as KubeSection } from './types.js';

/** The broker's own credentials: a kubeconfig, a server URL, or the pod's service account. */
export async function loadKubeConfig(section: KubeSection): Promise<KubeConfig> {
  // client-node's models cost some 75 MiB of memory: a broker without a kube section never loads them.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (section.kubeconfig) kc.loadFromFile(section.kubeconfig);
  else if (section.server) kc.loadFromClusterAndUser({ name: 'upstream', server: section.server, skipTLSVerify: false }, { name: 'seb' });
  else kc.loadFromCluster();
  return kc;
}
