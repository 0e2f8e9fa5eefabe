/**
 * The admin side of the aws CLI tests (set-up, checks, resets) run by one long-lived Python
 * process that calls the aws CLI's own entry point (`awscli.clidriver`) once per command: the same
 * argument parsing, signing and output as `aws`, without a new interpreter each time. Starting the
 * CLI costs about a second of CPU, mostly imports; the command matrix runs some 60 admin commands.
 * The agent's commands are never run this way: they stay the unmodified `aws` process.
 * Callers must register `close` with `t.teardown`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { agentEnv, type CliResult } from './aws-cli.js';
import { INSTALL_HINTS, requirePeer } from './peers.js';
import type { AccessKey } from './moto.js';

export interface AwsAdmin {
  /** `aws ...args` with the admin's keys, pointed at the endpoint given at start; never rejects. */
  run(args: readonly string[]): Promise<CliResult>;
  close(): Promise<void>;
}

// One command per line of JSON in, one result per line out, in order. A new driver per command:
// a reused one keeps the previous command's `--output` and `--region` in its session.
const DRIVER = `
import contextlib, io, json, sys
from awscli.clidriver import create_clidriver

for line in sys.stdin:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = create_clidriver().main(json.loads(line))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    print(json.dumps({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}), flush=True)
`;

/** The interpreter (and its arguments) on the `aws` script's `#!` line: the Python that has awscli. */
function interpreterOf(script: string): string[] {
  const shebang = /^#!(.+)$/m.exec(readFileSync(script, 'utf8').slice(0, 512))?.[1];
  if (shebang === undefined) throw new Error(`${script} is not a Python script; the aws CLI v1 is (${INSTALL_HINTS.aws})`);
  const words = shebang.trim().split(/\s+/);
  return words[0]!.endsWith('/env') ? words.slice(1) : words;
}

export function startAwsAdmin(endpoint: string, key: AccessKey): AwsAdmin {
  const [python, ...pythonArgs] = interpreterOf(requirePeer('aws', INSTALL_HINTS.aws));
  const env = { ...agentEnv(endpoint, null), AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey };
  const child = spawn(python!, [...pythonArgs, '-c', DRIVER], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting: ((r: CliResult) => void)[] = [];
  const failAll = (why: string): void => {
    for (const resolve of waiting.splice(0)) resolve({ code: 1, stdout: '', stderr: why });
  };
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line) as CliResult));
  child.once('exit', (code, signal) => failAll(`the admin aws CLI exited (${code ?? signal})`));
  child.once('error', (err) => failAll(`the admin aws CLI did not start: ${err.message}`));
  return {
    run(args) {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: 1, stdout: '', stderr: 'the admin aws CLI has exited' });
        waiting.push(resolve);
        child.stdin.write(`${JSON.stringify(args)}\n`);
      });
    },
    close() {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin.end();
      });
    },
  };
}
