/**
 * The names of the sidecar contract (SPEC §11; README "Sidecar injection"), shared by the injector,
 * the init container and the manifests in k8s/. Changing one here changes the contract: the
 * manifests and the static overlay spell the same names.
 */

/** The opt-in label the webhook's objectSelector matches; the injector checks it again. */
export const INJECT_LABEL = 'seb.dev/inject';
export const ANNOTATIONS = {
  config: 'seb.dev/config',
  signingKey: 'seb.dev/signing-key',
  agentUid: 'seb.dev/agent-uid',
  agentEgress: 'seb.dev/agent-egress',
  /** Written by the injector; its presence makes a reinvocation re-apply only the hardening. */
  injected: 'seb.dev/injected',
} as const;

export const DEFAULT_CONFIG_MAP = 'seb-broker';
export const DEFAULT_SIGNING_KEY_SECRET = 'seb-broker-key';
export const DEFAULT_AGENT_UID = 1000;
export const DEFAULT_BROKER_UID = 15000;

export const BROKER_CONTAINER = 'seb-broker';
export const INIT_CONTAINER = 'seb-init';
/** The containers the injector owns; every other container is an agent container. */
export const SEB_CONTAINERS: ReadonlySet<string> = new Set([INIT_CONTAINER, BROKER_CONTAINER]);

export const VOLUMES = {
  config: 'seb-config',
  signingKey: 'seb-signing-key',
  client: 'seb-client',
  kubeToken: 'seb-kube-token',
} as const;
export const SEB_VOLUMES: ReadonlySet<string> = new Set(Object.values(VOLUMES));
/** Volumes only the broker may mount: the record-signing key and the broker's service-account token. */
export const BROKER_ONLY_VOLUMES: ReadonlySet<string> = new Set([VOLUMES.signingKey, VOLUMES.kubeToken]);

export const CONFIG_KEY = 'seb.yaml';
export const SIGNING_KEY_FILE = 'private.jwk.json';
export const CONFIG_DIR = '/etc/seb';
export const KEYS_DIR = '/etc/seb/keys';
/** `kube.client_dir`: the broker writes the agent's kubeconfig and CA here. */
export const CLIENT_DIR = '/var/run/seb';
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** IRSA (the EKS pod identity webhook) and EKS Pod Identity mount their tokens under these. */
export const IRSA_DIR = '/var/run/secrets/eks.amazonaws.com';
export const POD_IDENTITY_DIR = '/var/run/secrets/pods.eks.amazonaws.com';
/** Paths no agent container may mount anything at or under: they hold the pod's credentials. */
export const CREDENTIAL_DIRS: readonly string[] = [SERVICE_ACCOUNT_DIR, IRSA_DIR, POD_IDENTITY_DIR];
/** The volumes the ServiceAccount admission plugin (`kube-api-access-*`), IRSA and Pod Identity add. */
export const KUBE_API_ACCESS_PREFIX = 'kube-api-access-';
export const CREDENTIAL_VOLUMES: ReadonlySet<string> = new Set(['aws-iam-token', 'eks-pod-identity-token']);

export const ADMIN_PORT = 15090;
export const AWS_ENDPOINT = 'http://127.0.0.1:15001';
export const KUBECONFIG = `${CLIENT_DIR}/kubeconfig`;

/** What the agent's unmodified clients need to talk to the broker (README "Running the broker"). */
export const AGENT_ENV: readonly { readonly name: string; readonly value: string }[] = [
  { name: 'AWS_ENDPOINT_URL', value: AWS_ENDPOINT },
  // Placeholders: the SDKs refuse to sign without keys; the broker ignores them and re-signs.
  { name: 'AWS_ACCESS_KEY_ID', value: 'AKIASEBPLACEHOLDER00' },
  { name: 'AWS_SECRET_ACCESS_KEY', value: 'seb-placeholder-not-a-credential' },
  { name: 'AWS_EC2_METADATA_DISABLED', value: 'true' },
  { name: 'KUBECONFIG', value: KUBECONFIG },
];

/**
 * Credential env the broker takes over from the agent (IRSA: AWS_ROLE_ARN, the web-identity token
 * file; Pod Identity: AWS_CONTAINER_*), plus the region settings those webhooks add beside them,
 * which the broker's STS calls need. The agent keeps the region settings.
 */
export const BROKER_CREDENTIAL_ENV: ReadonlySet<string> = new Set([
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
]);
export const BROKER_SHARED_ENV: ReadonlySet<string> = new Set(['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_STS_REGIONAL_ENDPOINTS']);

/** Env removed from agent containers: every way an AWS SDK finds a credential, and what we set. */
export const AGENT_STRIPPED_ENV: ReadonlySet<string> = new Set([
  ...BROKER_CREDENTIAL_ENV,
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  ...AGENT_ENV.map((e) => e.name),
]);
/** `AWS_ENDPOINT_URL_<SERVICE>` beats AWS_ENDPOINT_URL in the SDKs and would route around the broker. */
export const SERVICE_ENDPOINT_ENV = /^AWS_ENDPOINT_URL_/;

/** The one capability an agent may add: binding a low port harms no invariant. */
export const ALLOWED_AGENT_CAPABILITIES: ReadonlySet<string> = new Set(['NET_BIND_SERVICE']);

export function defaultImages(version: string): { image: string; initImage: string } {
  return { image: `ghcr.io/seb-broker/seb:${version}`, initImage: `ghcr.io/seb-broker/seb-init:${version}` };
}
