/** `seb run [--config FILE]`: start the broker (SPEC §9). */
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { loadConfigFile, requireSigningKey } from '../config/load.js';
import { startBroker, type BrokerOptions, type RunningBroker } from '../server/broker.js';

export function configPathFrom(flag: unknown, env: NodeJS.ProcessEnv): string {
  const path = typeof flag === 'string' ? flag : env.SEB_CONFIG;
  if (!path) throw new UsageError(['--config FILE or SEB_CONFIG is required']);
  return path;
}

export const command: Command = {
  path: ['run'],
  summary: 'start the broker',
  usage: '[--config FILE]',
  flags: [{ name: 'config', type: 'string', value: 'FILE', help: 'config file (default: $SEB_CONFIG)' }],
  async run(args, io) {
    const config = await loadConfigFile(configPathFrom(args.flags.config, io.env));
    requireSigningKey(config);
    const log = (line: string): void => void io.stderr.write(`${line}\n`);
    const broker = await startBroker(config, { log, ...stsRegion(io.env) });
    log(
      `seb: broker ${config.broker.id} for ${config.broker.audience}` +
        (broker.aws ? `; aws on ${broker.aws.address}:${broker.aws.port}` : '') +
        (broker.kube ? `; kube on ${broker.kube.address}:${broker.kube.port}` : '') +
        `; admin on ${broker.admin.address}:${broker.admin.port}`,
    );
    return (await stopOnSignal(broker, config.limits.request_timeout, log)) ? 0 : 1;
  },
};

/**
 * SIGTERM or SIGINT drains the broker (README "Shutdown"): requests in flight get up to `graceSeconds`
 * and the record stream is closed. A second signal cuts what is still in flight. Resolves false
 * when the stop failed or the record stream could not be closed (the end record may be missing),
 * so the exit status says so.
 */
function stopOnSignal(broker: RunningBroker, graceSeconds: number, log: (line: string) => void): Promise<boolean> {
  return new Promise((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (++signals > 1) {
        log(`seb: ${signal} again: cutting the requests still in flight`);
        void broker.close();
        return;
      }
      log(`seb: ${signal}: stopping; requests in flight get up to ${graceSeconds} s`);
      broker.close({ graceful: true }).then(
        // The broker has already logged why the stream could not be closed: only the status is left.
        () => broker.records.close().then(() => done(true), () => done(false)),
        (err: unknown) => {
          log(`seb: error while stopping: ${err instanceof Error ? err.message : String(err)}`);
          done(false);
        },
      );
    };
    const done = (ok: boolean): void => {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      log('seb: stopped');
      resolve(ok);
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
}

/**
 * What the environment tells the broker, read once at start: the region of the STS endpoint it
 * mints at (the pod's AWS_REGION, SPEC §5). The broker itself reads no environment.
 */
export function stsRegion(env: Readonly<Record<string, string | undefined>>): Pick<BrokerOptions, 'stsRegion'> {
  const region = env['AWS_REGION'];
  return region === undefined ? {} : { stsRegion: region };
}
