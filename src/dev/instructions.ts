/**
 * What `seb dev` prints for the user (SPEC §9): where everything listens and the exact commands,
 * paste-able into a POSIX shell, that point `kubectl` and `aws` at the broker, capture a change,
 * certify it, run it, revoke the certificate and verify the records.
 */
import { MOTO_INSTALL_HINT } from './moto.js';
import { DEMO_NAMESPACE } from './standin.js';

export interface SandboxEndpoints {
  /** `node /path/to/dist/cli/main.js`, already quoted. */
  readonly seb: string;
  /** `127.0.0.1:PORT` of the broker's listeners; aws is null without moto. */
  readonly aws: string | null;
  readonly kube: string;
  readonly admin: string;
  readonly issuer: string;
  readonly apiserver: string;
  readonly moto: string | null;
  readonly region: string;
  readonly identities: readonly string[];
  readonly dir: string;
  readonly configPath: string;
  readonly kubeconfig: string;
  readonly brokerJwks: string;
}

/** The change is written as a manifest by kubectl itself, then applied server-side (one PATCH). */
const KUBE_MANIFEST = `kubectl -n ${DEMO_NAMESPACE} create configmap hello --from-literal=greeting=hi --dry-run=client -o yaml > hello.yaml`;
const KUBE_CHANGE = 'kubectl apply --server-side -f hello.yaml';
const AWS_CHANGE = 'aws s3api create-bucket --bucket demo';

export function instructions(e: SandboxEndpoints): string {
  const config = shellQuote(e.configPath);
  const certify = (variable: string): string =>
    `  ${variable}="$(curl -sf ${e.issuer}/certificates --data "{\\"ops\\":[$(paste -sd, ops.jsonl)]}")"`;
  return [
    '',
    `  broker   kube https://${e.kube}   ${e.aws ? `aws http://${e.aws}   ` : ''}admin http://${e.admin} (/healthz /readyz /metrics /keys)`,
    `  issuer   ${e.issuer} (development issuer: certifies whatever ops it is sent)`,
    `  kube     stand-in apiserver ${e.apiserver}, namespace ${DEMO_NAMESPACE}`,
    e.moto ? `  aws      moto ${e.moto}` : `  aws      not served: moto_server is not installed (${MOTO_INSTALL_HINT}, then restart seb dev)`,
    `  config   ${e.configPath}`,
    `Signed records go to stdout; this text and the logs to stderr. Ctrl-C stops everything and removes ${e.dir}.`,
    '',
    'In another shell (the agent holds no credential: the kubeconfig has a placeholder token, the aws keys are placeholders):',
    `  alias seb=${shellQuote(e.seb)}`,
    `  export KUBECONFIG=${shellQuote(e.kubeconfig)}`,
    ...(e.aws
      ? [`  export AWS_ENDPOINT_URL=http://${e.aws} AWS_ACCESS_KEY_ID=AKIDSEBAGENT AWS_SECRET_ACCESS_KEY=placeholder AWS_DEFAULT_REGION=${e.region}`]
      : []),
    ...(e.aws
      ? [`  # aws CLI v1 sends sqs to queue.amazonaws.com whatever AWS_ENDPOINT_URL says: add --endpoint-url http://${e.aws}`]
      : []),
    '  kubectl get namespaces          # a read: needs no certificate',
    ...(e.aws ? ['  aws s3 ls                       # a read: needs no certificate'] : []),
    '',
    'Capture the ops a change needs (nothing is executed), get a certificate for exactly those, make the change with it:',
    `  ${KUBE_MANIFEST}`,
    `  seb op capture --config ${config} -- ${KUBE_CHANGE} > ops.jsonl`,
    certify('CERT'),
    `  ${KUBE_CHANGE.replace(/^kubectl /, 'kubectl --token "$CERT" ')}`,
    ...(e.aws
      ? [
          `  seb op capture --config ${config} -- ${AWS_CHANGE} > ops.jsonl`,
          certify('export AWS_SESSION_TOKEN'),
          `  ${AWS_CHANGE}`,
        ]
      : []),
    `  (optional issuer fields: "sub", "identity" (${e.identities.join(' | ')}, default all), "ttl" seconds)`,
    '',
    'Revoke a certificate (or send {"jti": "..."}: the issuer logs each jti, and answers it in x-seb-jti):',
    `  curl -s ${e.issuer}/revoke --data "{\\"certificate\\":\\"$CERT\\"}"`,
    `  seb cert inspect --config ${config} "$CERT"     # verdict: revoked`,
    `  ${KUBE_CHANGE.replace(/^kubectl /, 'kubectl --token "$CERT" ')}   # denied: revoked`,
    '',
    'Verify the records (run seb dev > records.jsonl to keep them):',
    `  seb records verify --key ${shellQuote(e.brokerJwks)} records.jsonl`,
    '',
  ].join('\n');
}

/** Single-quoted for POSIX shells, so printed commands paste as they are. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
