/**
 * The sandbox `seb dev` runs (SPEC §9): in one temporary directory, a development issuer, the
 * stand-in apiserver, moto when it is installed, and a broker wired to them with built-in defaults.
 * The directory holds the broker's record-signing key too: SPEC §8 lets only `seb dev` make one at
 * start. `close` stops everything in reverse order and removes the directory.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig, DEFAULTS } from '../config/load.js';
import type { Config } from '../config/types.js';
import { startBroker, type RunningBroker } from '../server/broker.js';
import { startIssuer, type DevIssuer } from './issuer.js';
import { startMoto, type Moto } from './moto.js';
import { EXECUTORS_GROUP, READER_GROUP, startDevApiserver, type DevApiserver } from './standin.js';

export const AUDIENCE = 'seb:dev';
export const REGION = 'us-east-1';
const BROKER_ID = 'seb-dev';
const ISSUER = 'seb-dev-issuer';
const DEFAULT_SUB = 'agent:dev';
/** The executor a certificate from the dev issuer runs under unless it names another. */
const DEFAULT_IDENTITY = 'all';

export interface SandboxOptions {
  /** 0 picks a free port. The aws port is unused without moto. */
  readonly ports: { readonly aws: number; readonly kube: number; readonly admin: number };
  /** The moto_server executable, or null: the AWS target is then not served. */
  readonly motoBin: string | null;
  /** Records go to `records.jsonl` in the directory (the demo verifies them) instead of `recordsOut`. */
  readonly recordsToFile: boolean;
  readonly recordsOut: NodeJS.WritableStream;
  readonly log: (line: string) => void;
}

export interface Sandbox {
  readonly dir: string;
  readonly configPath: string;
  readonly config: Config;
  readonly issuer: DevIssuer;
  readonly moto: Moto | null;
  readonly apiserver: DevApiserver;
  readonly broker: RunningBroker;
  /** The agent's kubeconfig, written by the broker into `kube.client_dir`. */
  readonly kubeconfig: string;
  /** The broker's public record-signing JWKS (the input of `seb records verify --key`). */
  readonly brokerJwks: string;
  readonly recordsFile: string | null;
  close(): Promise<void>;
}

export async function startSandbox(o: SandboxOptions): Promise<Sandbox> {
  const cleanups: (() => Promise<void>)[] = [];
  let closing: Promise<void> | null = null;
  // Reverse order: the broker stops before its issuer and upstreams, the directory goes last.
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      for (const cleanup of cleanups.reverse()) {
        await cleanup().catch((err: unknown) => o.log(`seb dev: while stopping: ${(err as Error).message}`));
      }
    })());
  try {
    const dir = await mkdtemp(join(tmpdir(), 'seb-dev-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));

    const brokerKey = freshPrivateJwk(`${BROKER_ID}-${randomUUID().slice(0, 8)}`);
    const brokerKeyPath = join(dir, 'broker.private.jwk.json');
    await writeFile(brokerKeyPath, JSON.stringify(brokerKey), { mode: 0o600 });
    const { d: _private, ...publicJwk } = brokerKey;
    const brokerJwks = join(dir, 'broker.jwks.json');
    await writeFile(brokerJwks, JSON.stringify({ keys: [publicJwk] }));

    let moto: Moto | null = null;
    if (o.motoBin !== null) {
      o.log('seb dev: starting moto_server ...');
      moto = await startMoto(o.motoBin);
      cleanups.push(moto.stop);
    }
    const apiserver = await startDevApiserver(dir);
    cleanups.push(apiserver.close);

    // One certificate identity works on both targets: each executor has an AWS role (with moto)
    // and a Kubernetes user the broker impersonates.
    const all = { user: 'seb:executor:all', groups: [EXECUTORS_GROUP] };
    const reader = { user: 'seb:reader', groups: [READER_GROUP] };
    const executors: Record<string, unknown> = moto
      ? {
          all: { aws: { role_arn: moto.roles.all }, k8s: all },
          s3: { aws: { role_arn: moto.roles.s3 } },
          reader: { aws: { role_arn: moto.roles.reader }, k8s: reader },
        }
      : { all: { k8s: all }, reader: { k8s: reader } };

    const authorityFile = join(dir, 'authority.jws');
    const issuer = await startIssuer({
      iss: ISSUER,
      audience: AUDIENCE,
      authorityFile,
      maxTtl: DEFAULTS.trust.max_validity,
      identities: Object.keys(executors),
      defaultSub: DEFAULT_SUB,
      defaultIdentity: DEFAULT_IDENTITY,
      log: o.log,
    });
    cleanups.push(issuer.close);
    const jwksPath = join(dir, 'issuer.jwks.json');
    await writeFile(jwksPath, JSON.stringify(issuer.jwks));

    const clientDir = join(dir, 'kube');
    const recordsFile = o.recordsToFile ? join(dir, 'records.jsonl') : null;
    const configPath = join(dir, 'seb.yaml');
    const text = stringify({
      broker: { id: BROKER_ID, audience: AUDIENCE, signing_key: brokerKeyPath },
      listen: {
        ...(moto ? { aws: `127.0.0.1:${o.ports.aws}` } : {}),
        kube: `127.0.0.1:${o.ports.kube}`,
        admin: `127.0.0.1:${o.ports.admin}`,
      },
      trust: { issuers: [{ iss: ISSUER, jwks: jwksPath }] },
      // A file, not authority.url: `seb cert inspect --config` checks revocation only against a
      // file source, and the issuer rewrites the file at once on revoke (the broker's watcher takes
      // it within about 100 ms; README "Revocation propagation").
      authority: { iss: ISSUER, file: authorityFile },
      reads: 'allow',
      read_executor: 'reader',
      executors,
      ...(moto
        ? {
            aws: {
              credentials: { access_key_id: moto.broker.accessKeyId, secret_access_key: moto.broker.secretAccessKey },
              endpoints: { default: moto.endpoint },
              allow_insecure_endpoints: true,
            },
          }
        : {}),
      kube: { kubeconfig: apiserver.brokerKubeconfig, client_dir: clientDir },
      ...(recordsFile ? { records: { sink: { file: recordsFile } } } : {}),
    });
    // Owner-only: it holds the broker user's moto secret key.
    await writeFile(configPath, text, { mode: 0o600 });
    const config = parseConfig(text, dir);

    let quietAuthority = false;
    const broker = await startBroker(config, {
      recordsOut: o.recordsOut,
      stsRegion: REGION,
      log: (line) => {
        // The issuer re-signs every 10 s; after the first, an accepted state is routine, not news.
        if (/^authority state seq \d+ accepted/.test(line)) {
          if (quietAuthority) return;
          quietAuthority = true;
        }
        o.log(line);
      },
    });
    cleanups.push(() => broker.close());

    return {
      dir, configPath, config, issuer, moto, apiserver, broker,
      kubeconfig: join(clientDir, 'kubeconfig'),
      brokerJwks,
      recordsFile,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** An ephemeral Ed25519 private JWK in the shape `seb keys generate` writes. */
function freshPrivateJwk(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'EdDSA' };
}
