/**
 * `seb dev` (SPEC §9): a complete local sandbox with built-in defaults. It starts a development
 * issuer, moto as the local AWS upstream (when `moto_server` is installed) and a broker wired to
 * both, then prints how to point the unmodified `aws` CLI at it. Everything lives in one temporary
 * directory, including the broker's record-signing key: SPEC §8 lets only `seb dev` make one at
 * start. Records go to stdout as in production; everything meant for the user goes to stderr.
 * SIGINT or SIGTERM stops all of it (moto too) and removes the directory.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig, DEFAULTS } from '../config/load.js';
import { startIssuer } from '../dev/issuer.js';
import { findOnPath, MOTO_INSTALL_HINT, startMoto, type Moto } from '../dev/moto.js';
import { parseListen, startBroker } from '../server/broker.js';
import { UsageError, type Command, type FlagValue } from './command.js';

const AUDIENCE = 'seb:dev';
const BROKER_ID = 'seb-dev';
const ISSUER = 'seb-dev-issuer';
const REGION = 'us-east-1';
const DEFAULT_SUB = 'agent:dev';
/** The executor a certificate from the dev issuer runs under unless it names another. */
const DEFAULT_IDENTITY = 'all';
/** Without moto the executors still need role ARNs; moto's default account, so captures look alike. */
const PLACEHOLDER_ACCOUNT = '123456789012';
/** Without moto the aws listener still serves (denials, records); upstream calls fail closed here. */
const NO_UPSTREAM = 'http://127.0.0.1:9';

const SEB = `node ${shellQuote(fileURLToPath(new URL('./main.js', import.meta.url)))}`;

export const command: Command = {
  path: ['dev'],
  summary: 'start a local sandbox (broker, development issuer, moto) and print how to use it',
  usage: '[--aws-port N] [--admin-port N]',
  flags: [
    { name: 'aws-port', type: 'number', value: 'N', help: `aws listener port on 127.0.0.1 (default ${parseListen(DEFAULTS.listen.aws).port}; 0 = any free port)` },
    { name: 'admin-port', type: 'number', value: 'N', help: `admin listener port on 127.0.0.1 (default ${parseListen(DEFAULTS.listen.admin).port}; 0 = any free port)` },
  ],
  async run(args, io) {
    const problems: string[] = [];
    const awsPort = port(args.flags['aws-port'], '--aws-port', parseListen(DEFAULTS.listen.aws).port, problems);
    const adminPort = port(args.flags['admin-port'], '--admin-port', parseListen(DEFAULTS.listen.admin).port, problems);
    if (problems.length > 0) throw new UsageError(problems);
    const say = (line: string): void => void io.stderr.write(`${line}\n`);

    // A fixed port in use is the common failure; say so before anything is started.
    for (const [flag, p] of [['--aws-port', awsPort], ['--admin-port', adminPort]] as const) {
      if (p !== 0 && !(await portFree(p))) problems.push(`127.0.0.1:${p} is in use; pass ${flag} N (0 = any free port)`);
    }
    if (problems.length > 0) throw new UsageError(problems);

    // Installed first: a signal during start-up still stops what was started, once it is up.
    let requestStop: () => void = () => {};
    const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
    const onSignal = (): void => requestStop();
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const dir = await mkdtemp(join(tmpdir(), 'seb-dev-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));

      const brokerKeyPath = join(dir, 'broker.private.jwk.json');
      await writeFile(brokerKeyPath, JSON.stringify(freshPrivateJwk(`${BROKER_ID}-${randomUUID().slice(0, 8)}`)), { mode: 0o600 });

      const motoBin = findOnPath('moto_server');
      let moto: Moto | null = null;
      if (motoBin === null) {
        say(`seb dev: moto_server is not installed (${MOTO_INSTALL_HINT}); the broker starts without an AWS upstream, so only denials and the admin listener work`);
      } else {
        say('seb dev: starting moto_server ...');
        moto = await startMoto(motoBin);
        cleanups.push(moto.stop);
      }
      const account = moto?.account ?? PLACEHOLDER_ACCOUNT;
      const roles = moto?.roles ?? {
        all: `arn:aws:iam::${account}:role/seb-exec-all`,
        s3: `arn:aws:iam::${account}:role/seb-exec-s3`,
        reader: `arn:aws:iam::${account}:role/seb-reader`,
      };
      const executors = { all: { aws: { role_arn: roles.all } }, s3: { aws: { role_arn: roles.s3 } }, reader: { aws: { role_arn: roles.reader } } };

      const authorityFile = join(dir, 'authority.jws');
      const issuer = await startIssuer({
        iss: ISSUER,
        audience: AUDIENCE,
        authorityFile,
        maxTtl: DEFAULTS.trust.max_validity,
        identities: Object.keys(executors),
        defaultSub: DEFAULT_SUB,
        defaultIdentity: DEFAULT_IDENTITY,
        log: say,
      });
      cleanups.push(issuer.close);
      const jwksPath = join(dir, 'issuer.jwks.json');
      await writeFile(jwksPath, JSON.stringify(issuer.jwks));

      const configPath = join(dir, 'seb.yaml');
      const text = stringify({
        broker: { id: BROKER_ID, audience: AUDIENCE, signing_key: brokerKeyPath },
        listen: { aws: `127.0.0.1:${awsPort}`, admin: `127.0.0.1:${adminPort}` },
        trust: { issuers: [{ iss: ISSUER, jwks: jwksPath }] },
        authority: { iss: ISSUER, file: authorityFile },
        reads: 'allow',
        read_executor: 'reader',
        executors,
        aws: {
          credentials: moto
            ? { access_key_id: moto.broker.accessKeyId, secret_access_key: moto.broker.secretAccessKey }
            : { access_key_id: 'seb-dev-no-upstream', secret_access_key: 'seb-dev-no-upstream' },
          endpoints: { default: moto?.endpoint ?? NO_UPSTREAM },
          allow_insecure_endpoints: true,
        },
      });
      // Owner-only: it holds the broker user's moto secret key.
      await writeFile(configPath, text, { mode: 0o600 });
      const config = parseConfig(text, dir);

      let quietAuthority = false;
      const broker = await startBroker(config, {
        recordsOut: io.stdout,
        stsRegion: REGION,
        log: (line) => {
          // The issuer re-signs every 10 s; after the first, an accepted state is routine, not news.
          if (/^authority state seq \d+ accepted/.test(line)) {
            if (quietAuthority) return;
            quietAuthority = true;
          }
          say(line);
        },
      });
      cleanups.push(broker.close);

      const aws = `127.0.0.1:${broker.aws!.port}`;
      const admin = `127.0.0.1:${broker.admin.port}`;
      say(
        `seb dev: ready aws=${aws} admin=${admin} issuer=${issuer.url}` +
          (moto ? ` moto=${moto.endpoint} moto_pid=${moto.pid}` : ' moto=none') +
          ` config=${configPath}`,
      );
      say(instructions({ aws, admin, issuer: issuer.url, moto: moto?.endpoint ?? null, dir, configPath }));

      await stopRequested;
      say('seb dev: stopping');
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      // Reverse order: the broker stops before its issuer and upstream, the directory goes last.
      for (const cleanup of cleanups.reverse()) {
        await cleanup().catch((err: unknown) => say(`seb dev: while stopping: ${(err as Error).message}`));
      }
    }
    say('seb dev: stopped');
    return 0;
  },
};

interface Endpoints {
  readonly aws: string;
  readonly admin: string;
  readonly issuer: string;
  readonly moto: string | null;
  readonly dir: string;
  readonly configPath: string;
}

function instructions(e: Endpoints): string {
  const config = shellQuote(e.configPath);
  return [
    '',
    `  broker   aws http://${e.aws}   admin http://${e.admin} (/healthz /readyz /metrics /keys)`,
    `  issuer   ${e.issuer} (development issuer: certifies whatever ops it is sent)`,
    e.moto ? `  aws      moto ${e.moto}` : `  aws      none: ${MOTO_INSTALL_HINT}, then restart seb dev`,
    `  config   ${e.configPath}`,
    'Signed records go to stdout; this text and the logs to stderr.',
    `Ctrl-C stops everything and removes ${e.dir}.`,
    '',
    'In another shell, point the unmodified aws CLI at the broker (placeholder keys: the agent holds no credential):',
    `  alias seb=${shellQuote(SEB)}`,
    `  export AWS_ENDPOINT_URL=http://${e.aws} AWS_ACCESS_KEY_ID=AKIDSEBAGENT AWS_SECRET_ACCESS_KEY=placeholder AWS_DEFAULT_REGION=${REGION}`,
    '  aws s3 ls                      # a read: needs no certificate',
    '',
    `Capture the ops a change needs (nothing is executed; it uses the config seb dev wrote, ${e.configPath}):`,
    `  seb op capture --config ${config} -- aws s3api create-bucket --bucket demo > ops.jsonl`,
    '',
    'Get a certificate for exactly those ops from the issuer, and make the change with it:',
    `  export AWS_SESSION_TOKEN="$(curl -sf ${e.issuer}/certificates --data "{\\"ops\\":[$(paste -sd, ops.jsonl)]}")"`,
    '  aws s3api create-bucket --bucket demo',
    '  (optional fields: "sub", "identity" (all | s3 | reader, default all), "ttl" seconds)',
    '',
    'Revoke it (the jti is in the issuer\'s "issued" line above, and in the x-seb-jti answer header):',
    `  curl -s ${e.issuer}/revoke --data '{"jti":"JTI"}'`,
    `  seb cert inspect --config ${config} "$AWS_SESSION_TOKEN"   # verdict: revoked`,
    '',
  ].join('\n');
}

function port(value: FlagValue | undefined, flag: string, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > 65535) {
    problems.push(`${flag}: must be a port 0-65535 (0 = any free port)`);
    return 0;
  }
  return value;
}

function portFree(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(p, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** An ephemeral Ed25519 private JWK in the shape `seb keys generate` writes. */
function freshPrivateJwk(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'EdDSA' };
}

/** Single-quoted for POSIX shells, so printed commands paste as they are. */
function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
