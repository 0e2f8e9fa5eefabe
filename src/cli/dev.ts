/**
 * `seb dev` (SPEC §9): a complete local sandbox with built-in defaults (src/dev/sandbox.ts): a
 * development issuer, the stand-in apiserver, moto when `moto_server` is installed, and a broker
 * wired to them. It prints how to point the unmodified `kubectl` and `aws` at it; records go to
 * stdout as in production, everything meant for the user to stderr. `--demo` runs a scripted
 * walkthrough against it instead (src/dev/demo.ts) and exits with its result; its records go to a
 * file in the sandbox directory, which the last step verifies. SIGINT or SIGTERM stops everything
 * (moto too) and removes the directory.
 */
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../config/load.js';
import type { Sandbox } from '../dev/sandbox.js';
import { parseListen } from '../server/broker.js';
import { UsageError, type Command, type FlagValue } from './command.js';

/** In demo mode the sandbox's own log lines are kept (the last ones) and shown only if a step fails. */
const DEMO_LOG_LINES = 40;

export const command: Command = {
  path: ['dev'],
  summary: 'start a local sandbox (broker, development issuer, stand-in apiserver, moto) and print how to use it',
  usage: '[--kube-port N] [--aws-port N] [--admin-port N] [--demo]',
  flags: [
    { name: 'kube-port', type: 'number', value: 'N', help: `kube listener port on 127.0.0.1 (default ${parseListen(DEFAULTS.listen.kube).port}; 0 = any free port)` },
    { name: 'aws-port', type: 'number', value: 'N', help: `aws listener port on 127.0.0.1 (default ${parseListen(DEFAULTS.listen.aws).port}; 0 = any free port; served only with moto_server)` },
    { name: 'admin-port', type: 'number', value: 'N', help: `admin listener port on 127.0.0.1 (default ${parseListen(DEFAULTS.listen.admin).port}; 0 = any free port)` },
    {
      name: 'demo',
      type: 'boolean',
      help: 'walk through an admitted, a refused, a replayed, a drifted and a revoked request and `seb records verify`, then stop; exit 0 when each behaved as expected. Records go to a file in the sandbox directory, not stdout',
    },
  ],
  async run(args, io) {
    const problems: string[] = [];
    const ports = {
      kube: port(args.flags['kube-port'], '--kube-port', parseListen(DEFAULTS.listen.kube).port, problems),
      aws: port(args.flags['aws-port'], '--aws-port', parseListen(DEFAULTS.listen.aws).port, problems),
      admin: port(args.flags['admin-port'], '--admin-port', parseListen(DEFAULTS.listen.admin).port, problems),
    };
    if (problems.length > 0) throw new UsageError(problems);
    const demo = args.flags['demo'] === true;
    const say = (line: string): void => void io.stderr.write(`${line}\n`);
    const recent: string[] = [];
    const log = demo
      ? (line: string): void => {
          recent.push(line);
          if (recent.length > DEMO_LOG_LINES) recent.shift();
        }
      : say;

    // The stand-ins and the demo load only here: they are development tools, not on `seb run`'s path.
    const [{ runDemo }, { instructions, shellQuote }, { findOnPath, MOTO_INSTALL_HINT }, { REGION, startSandbox }] = await Promise.all([
      import('../dev/demo.js'), import('../dev/instructions.js'), import('../dev/moto.js'), import('../dev/sandbox.js'),
    ]);
    /** This very node and CLI, so the printed commands run the same build whatever node PATH finds. */
    const SEB = `${shellQuote(process.execPath)} ${shellQuote(fileURLToPath(new URL('./main.js', import.meta.url)))}`;
    const motoBin = findOnPath('moto_server', io.env['PATH'] ?? '');
    // A fixed port in use is the common failure; say so before anything is started.
    const wanted = [['--kube-port', ports.kube], ['--admin-port', ports.admin], ...(motoBin ? [['--aws-port', ports.aws] as const] : [])] as const;
    for (const [flag, p] of wanted) {
      if (p !== 0 && !(await portFree(p))) problems.push(`127.0.0.1:${p} is in use; pass ${flag} N (0 = any free port)`);
    }
    if (problems.length > 0) throw new UsageError(problems);

    // Installed first: a signal during start-up still stops what was started, once it is up.
    const stop = new AbortController();
    const stopRequested = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    const onSignal = (): void => stop.abort();
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    let sandbox: Sandbox | null = null;
    let status = 0;
    try {
      if (demo) say('seb dev --demo: starting the sandbox ...');
      if (motoBin === null) say(`seb dev: moto_server is not installed (${MOTO_INSTALL_HINT}); the AWS side is not served, the Kubernetes side runs`);
      sandbox = await startSandbox({ ports, motoBin, recordsToFile: demo, recordsOut: io.stdout, log });
      const { broker, issuer, moto, apiserver } = sandbox;
      const aws = broker.aws ? `127.0.0.1:${broker.aws.port}` : null;
      const kube = `127.0.0.1:${broker.kube!.port}`;
      const admin = `127.0.0.1:${broker.admin.port}`;
      say(
        `seb dev: ready kube=${kube} aws=${aws ?? 'none'} admin=${admin} issuer=${issuer.url} apiserver=${apiserver.api.url}` +
          (moto ? ` moto=${moto.endpoint} moto_pid=${moto.pid}` : ' moto=none') +
          ` config=${sandbox.configPath} kubeconfig=${sandbox.kubeconfig}`,
      );
      if (demo) {
        say('seb dev --demo: the agent runs its unmodified clients against the broker; each step must behave as described');
        // Ctrl-C aborts the signal: the demo's clients are killed and it ends at the current step.
        status = await runDemo({ sandbox, say, signal: stop.signal });
        if (status !== 0 && !stop.signal.aborted && recent.length > 0) say(`seb dev --demo: the sandbox's last log lines:\n  ${recent.join('\n  ')}`);
      } else {
        say(
          instructions({
            seb: SEB, aws, kube, admin, issuer: issuer.url, apiserver: apiserver.api.url, moto: moto?.endpoint ?? null, region: REGION,
            identities: Object.keys(sandbox.config.executors), dir: sandbox.dir, configPath: sandbox.configPath,
            kubeconfig: sandbox.kubeconfig, brokerJwks: sandbox.brokerJwks,
          }),
        );
        await stopRequested;
      }
      say('seb dev: stopping');
    } finally {
      // Ends the demo's clients too, when it stopped early.
      stop.abort();
      // The handlers stay until everything is stopped: a second signal (`timeout` and process-group
      // kills send two) must not kill the process halfway, leaving moto and the directory behind.
      await sandbox?.close();
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }
    say('seb dev: stopped');
    return status;
  },
};

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
