import { execFile } from 'node:child_process';
import { requirePeer, INSTALL_HINTS } from './peers.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment an agent's unmodified `aws` CLI runs with: the broker as endpoint, no real keys. */
export function agentEnv(url: string, token: string | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ENDPOINT_URL: url,
    AWS_ACCESS_KEY_ID: 'AKIDAGENT',
    AWS_SECRET_ACCESS_KEY: 'agent-has-no-secret',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_MAX_ATTEMPTS: '1',
    AWS_RETRY_MODE: 'standard',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
  if (token !== null) env.AWS_SESSION_TOKEN = token;
  return env;
}

/** Runs the real `aws` CLI (a missing CLI fails the test with the install command). */
export function awsCli(args: readonly string[], url: string, token: string | null): Promise<CliResult> {
  const aws = requirePeer('aws', INSTALL_HINTS.aws);
  return new Promise((resolve) => {
    execFile(aws, args, { env: agentEnv(url, token), timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
