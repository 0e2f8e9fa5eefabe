/**
 * The broker's own connection to the apiserver (SPEC §5): its credentials come from a kubeconfig
 * or the in-cluster service account, loaded with @kubernetes/client-node, and never from the agent.
 */
import { Agent } from 'undici';
import type { KubeConfig as KubeSection } from '../../config/types.js';
import { loadKubeConfig } from '../../config/kubeconfig.js';

/** Projected service-account tokens rotate; the broker re-reads its credentials this often. */
const REFRESH_MS = 30_000;

export interface KubeUpstream {
  readonly origin: string;
  /** Pooled TLS connections to the apiserver, trusting only its configured CA. */
  readonly dispatcher: Agent;
  /** The broker's own auth header (bearer token), when it authenticates by token. */
  authorization(): string | undefined;
  /** TLS options for upgrade tunnels (exec, attach, port-forward), which bypass the dispatcher. */
  readonly tls: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer };
  close(): Promise<void>;
}

export async function kubeUpstream(section: KubeSection, log: (line: string) => void): Promise<KubeUpstream> {
  const kc = await loadKubeConfig(section);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kube: the kubeconfig names no current cluster');
  const origin = new URL(cluster.server).origin;
  if (!origin.startsWith('https://')) throw new Error(`kube: the apiserver ${origin} is not https`);
  const options: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(options);
  let authorization = options.headers?.['Authorization'] ?? options.headers?.['authorization'];
  const tls = { ...(options.ca ? { ca: options.ca } : {}), ...(options.cert ? { cert: options.cert } : {}), ...(options.key ? { key: options.key } : {}) };
  const dispatcher = new Agent({ connect: { ...tls }, keepAliveTimeout: 30_000, connections: 64 });
  const refresh = setInterval(() => {
    const next: { headers?: Record<string, string> } = {};
    kc.applyToHTTPSOptions(next).then(
      () => {
        authorization = next.headers?.['Authorization'] ?? next.headers?.['authorization'] ?? authorization;
      },
      (err: unknown) => log(`seb: could not refresh the apiserver credentials: ${String(err)}`),
    );
  }, REFRESH_MS).unref();
  return {
    origin,
    dispatcher,
    authorization: () => authorization,
    tls,
    async close() {
      clearInterval(refresh);
      await dispatcher.close();
    },
  };
}
