/**
 * A stand-in apiserver (src/dev/apiserver) with a broker identity allowed to impersonate, and a
 * kubeconfig for the broker, all made for the test.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startStandInApiserver, type StandInApiserver } from '../../src/dev/apiserver/server.js';
import type { StreamOptions } from '../../src/dev/apiserver/streams.js';
import type { RbacRule } from '../../src/dev/apiserver/auth.js';
import { issueServingCert, makeLocalCa } from '../../src/targets/kube/local-pki.js';

export const BROKER_TOKEN = 'broker-token';
export const ADMIN_TOKEN = 'admin-token';

export interface KubeWorld {
  readonly api: StandInApiserver;
  /** The broker's own kubeconfig (its token may impersonate the executors). */
  readonly brokerKubeconfig: string;
  /** A kubeconfig that talks to the stand-in directly as an administrator (to set up and inspect). */
  readonly adminKubeconfig: string;
  close(): Promise<void>;
}

export interface KubeWorldOptions extends StreamOptions {
  readonly afterResponse?: (request: { method: string; path: string; user: string }) => void;
  /** What reached the stand-in, as it arrives (StandInOptions.onRequest). */
  readonly onRequest?: (request: { method: string; path: string; upgrade: boolean }) => void | Promise<void>;
  /** What the broker's own identity may do besides impersonating (e.g. read an authority ConfigMap). */
  readonly brokerRules?: readonly RbacRule[];
}

export async function startKubeWorld(dir: string, options: KubeWorldOptions = {}): Promise<KubeWorld> {
  const { afterResponse, onRequest, brokerRules, ...streams } = options;
  const ca = await makeLocalCa('stand-in apiserver CA');
  const tls = await issueServingCert(ca, ['127.0.0.1']);
  const caPath = join(dir, 'apiserver-ca.crt');
  writeFileSync(caPath, ca.certPem);
  const api = await startStandInApiserver({
    tls,
    tokens: { [BROKER_TOKEN]: { user: 'seb-broker', groups: [] }, [ADMIN_TOKEN]: { user: 'admin', groups: ['system:masters'] } },
    impersonators: ['seb-broker'],
    rbac: {
      ...(brokerRules ? { 'seb-broker': brokerRules } : {}),
      'system:masters': [{ verbs: ['*'], resources: ['*'] }],
      'seb:executors': [{ verbs: ['*'], resources: ['*'] }],
      'seb:reader': [{ verbs: ['get', 'list', 'watch'], resources: ['*'] }],
    },
    ...(afterResponse ? { afterResponse } : {}),
    ...(onRequest ? { onRequest } : {}),
    ...streams,
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
  return { api, brokerKubeconfig: kubeconfig('broker', BROKER_TOKEN), adminKubeconfig: kubeconfig('admin', ADMIN_TOKEN), close: () => api.close() };
}

/** Broker config for the kube target against `world`: executors with k8s profiles, its client dir. */
export function kubeBrokerConfig(world: KubeWorld, clientDir: string): Record<string, unknown> {
  return {
    executors: {
      all: { aws: { role_arn: 'arn:aws:iam::123456789012:role/seb-exec-all' }, k8s: { user: 'seb:executor:deployer', groups: ['seb:executors'] } },
      reader: { aws: { role_arn: 'arn:aws:iam::123456789012:role/seb-reader' }, k8s: { user: 'seb:reader', groups: ['seb:reader'] } },
    },
    kube: { kubeconfig: world.brokerKubeconfig, client_dir: clientDir },
  };
}
