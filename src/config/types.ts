/** The validated, defaulted and frozen configuration (SPEC §10). Built once by config/load.ts. */

export interface AwsExecutor {
  readonly role_arn: string;
  readonly external_id?: string;
}
export interface K8sExecutor {
  readonly user: string;
  readonly groups: readonly string[];
}
export interface Executor {
  readonly aws?: AwsExecutor;
  readonly k8s?: K8sExecutor;
}

export type AwsCredentialsConfig = 'default' | { readonly access_key_id: string; readonly secret_access_key: string };

export interface AwsConfig {
  readonly credentials: AwsCredentialsConfig;
  /** Per service signing name (or `default`) to a base URL, e.g. `http://127.0.0.1:5000`. */
  readonly endpoints: Readonly<Record<string, string>>;
  readonly allow_insecure_endpoints: boolean;
  readonly allow_credential_vending: readonly string[];
  readonly mint: 'per_scope' | 'per_certificate';
}

export interface KubeConfig {
  readonly in_cluster: boolean;
  readonly server: string | null;
  readonly kubeconfig: string | null;
  readonly tls: { readonly cert: string; readonly key: string } | null;
  readonly client_dir: string;
}

export type AuthoritySource =
  | { readonly file: string }
  | { readonly url: string }
  | { readonly configmap: { readonly namespace: string; readonly name: string; readonly key: string } };

export type RecordSinkConfig =
  | 'stdout'
  | { readonly file: string }
  | { readonly fluent: { readonly host: string; readonly port: number; readonly tag: string } };

export interface Config {
  readonly broker: {
    readonly id: string;
    readonly audience: string;
    readonly principals: readonly string[] | null;
    readonly signing_key: string | null;
  };
  readonly listen: { readonly aws: string; readonly kube: string; readonly admin: string };
  readonly trust: {
    readonly issuers: readonly { readonly iss: string; readonly jwks: string }[];
    readonly max_validity: number;
    readonly clock_skew: number;
  };
  readonly authority: { readonly iss: string; readonly source: AuthoritySource; readonly max_age_cap: number };
  readonly reads: 'allow' | 'certify' | 'deny';
  readonly read_executor: string | null;
  readonly executors: Readonly<Record<string, Executor>>;
  /** Absent: the aws target is not served. */
  readonly aws: AwsConfig | null;
  /** Absent: the kube target is not served. */
  readonly kube: KubeConfig | null;
  readonly records: {
    readonly sink: RecordSinkConfig;
    readonly state_file: string | null;
    readonly sign: 'every' | 'checkpoint';
  };
  readonly replay: {
    readonly store: 'memory' | { readonly redis: { readonly url: string; readonly password_file: string | null; readonly check_persistence: boolean } };
  };
  readonly limits: {
    readonly max_body_bytes: number;
    readonly request_timeout: number;
    readonly max_stream: number;
    /** Requests in flight per listener and class (server/lanes.ts): each class has its own upstream pool. */
    readonly concurrent_certified: number;
    readonly concurrent_certified_streams: number;
    readonly concurrent_reads: number;
    readonly concurrent_read_streams: number;
    /** Bytes a second an answer that ends must keep moving, per window of request_timeout (server/rate-guard.ts). */
    readonly min_read_rate: number;
  };
}
