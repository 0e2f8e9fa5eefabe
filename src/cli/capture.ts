/**
 * `seb op capture [--config FILE] -- COMMAND...` (SPEC §9): runs COMMAND against a capturing
 * broker on free loopback ports. Reads go through; each mutation is refused and printed on stdout
 * as the exact op a certificate would need. Everything else goes to stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIO, Command } from './command.js';
import { UsageError } from './command.js';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/types.js';
import { startBroker } from '../server/broker.js';
import { accountOfRoleArn } from '../targets/aws/arn.js';
import { configPathFrom, stsRegion } from './run.js';

/**
 * The capture broker listens on free loopback ports whatever the config says, and writes the
 * kubeconfig for COMMAND into its own directory, never over a running broker's.
 * `seb dev --demo` captures through the same config.
 */
export function captureConfig(config: Config, clientDir: string): Config {
  return {
    ...config,
    listen: { aws: '127.0.0.1:0', kube: '127.0.0.1:0', admin: '127.0.0.1:0' },
    records: { ...config.records, sink: 'stdout', state_file: null },
    kube: config.kube ? { ...config.kube, client_dir: clientDir } : null,
  };
}

function captureAccount(config: Config, identity: string | undefined): string | undefined {
  const name = identity ?? config.read_executor ?? undefined;
  if (identity !== undefined && !config.executors[identity]?.aws) throw new UsageError([`--identity: no aws executor named ${identity}`]);
  const roleArn = name ? config.executors[name]?.aws?.role_arn : undefined;
  return roleArn ? accountOfRoleArn(roleArn) : undefined;
}

export const command: Command = {
  path: ['op', 'capture'],
  summary: 'print the ops a certificate needs for what COMMAND does',
  usage: '[--config FILE] [--identity NAME] -- COMMAND...',
  flags: [
    { name: 'config', type: 'string', value: 'FILE', help: 'config file (default: $SEB_CONFIG)' },
    { name: 'identity', type: 'string', value: 'NAME', help: 'executor whose account goes into ARNs (default: read_executor)' },
  ],
  acceptsRest: true,
  async run(args, io) {
    if (args.rest.length === 0) throw new UsageError(['a COMMAND after -- is required']);
    const clientDir = await mkdtemp(join(tmpdir(), 'seb-capture-'));
    try {
      const config = captureConfig(await loadConfigFile(configPathFrom(args.flags.config, io.env)), clientDir);
      const account = captureAccount(config, args.flags.identity as string | undefined);
      let printed = 0;
      const broker = await startBroker(config, {
        log: (line) => void io.stderr.write(`${line}\n`),
        recordsOut: io.stderr,
        ...stsRegion(io.env),
        capture: (op) => {
          io.stdout.write(`${JSON.stringify(op)}\n`);
          return printed++;
        },
        ...(account ? { captureAccount: account } : {}),
      });
      try {
        const env: NodeJS.ProcessEnv = { ...io.env };
        if (broker.aws) env.AWS_ENDPOINT_URL = `http://127.0.0.1:${broker.aws.port}`;
        // The kubeconfig's placeholder token is enough: the capture broker reads no certificate.
        if (broker.kube) env.KUBECONFIG = join(clientDir, 'kubeconfig');
        return await runCommand(args.rest, env, io);
      } finally {
        await broker.close();
      }
    } finally {
      await rm(clientDir, { recursive: true, force: true });
    }
  },
};

function runCommand(command: readonly string[], env: NodeJS.ProcessEnv, io: CliIO): Promise<number> {
  const [cmd, ...cmdArgs] = command;
  return new Promise<number>((resolve, reject) => {
    // COMMAND's stdout goes to our stderr: stdout carries only the ops.
    const child = spawn(cmd!, cmdArgs, { env, stdio: ['inherit', 'pipe', 'pipe'] });
    child.stdout.pipe(io.stderr, { end: false });
    child.stderr.pipe(io.stderr, { end: false });
    child.on('error', (err) => reject(new UsageError([`cannot run ${cmd}: ${err.message}`])));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
