/** `seb run [--config FILE]`: start the broker (SPEC §9). */
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { loadConfigFile, requireSigningKey } from '../config/load.js';
import { startBroker } from '../server/broker.js';

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
    const broker = await startBroker(config, { log });
    log(
      `seb: broker ${config.broker.id} for ${config.broker.audience}` +
        (broker.aws ? `; aws on ${broker.aws.address}:${broker.aws.port}` : '') +
        `; admin on ${broker.admin.address}:${broker.admin.port}`,
    );
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGTERM', stop).off('SIGINT', stop);
        log('seb: stopping');
        broker.close().then(resolve, (err: unknown) => {
          log(`seb: error while stopping: ${String(err)}`);
          resolve();
        });
      };
      process.on('SIGTERM', stop).on('SIGINT', stop);
    });
    return 0;
  },
};
