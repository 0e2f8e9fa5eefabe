/**
 * The agent's unmodified AWS SDK clients: the broker as endpoint, placeholder keys (the agent holds
 * no usable credential), the certificate as the session token, and no retries, so that each call
 * is exactly one request.
 */
import { S3Client, type PutObjectCommand } from '@aws-sdk/client-s3';

export const AGENT_REGION = 'us-east-1';

export function agentConfig(url: string, token: string) {
  return {
    endpoint: url,
    region: AGENT_REGION,
    credentials: { accessKeyId: 'AKIDAGENT', secretAccessKey: 'agent-has-no-secret', sessionToken: token },
    maxAttempts: 1,
  };
}

/** Path-style S3, as the broker reads S3 (README "S3 operations"). */
export function agentS3(url: string, token: string): S3Client {
  return new S3Client({ ...agentConfig(url, token), forcePathStyle: true });
}

/** What the agent's SDK saw: the HTTP status and the error message it parsed ('' on success). */
export interface Outcome {
  readonly status: number | undefined;
  readonly message: string;
}

/** Sends `command`; a refusal is an Outcome too, not a throw. */
export async function outcomeOf(client: S3Client, command: PutObjectCommand): Promise<Outcome> {
  try {
    const out = await client.send(command);
    return { status: out.$metadata.httpStatusCode, message: '' };
  } catch (err) {
    const e = err as { $metadata?: { httpStatusCode?: number }; message?: string };
    return { status: e.$metadata?.httpStatusCode, message: e.message ?? String(err) };
  }
}
