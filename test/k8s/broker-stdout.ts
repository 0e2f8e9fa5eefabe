/**
 * What a seb-broker container leaves on a node: signed records on stdout, one a line, and the
 * container runtime's CRI log lines for them under /var/log/containers/. Shared by the tests that
 * run k8s/fluent-bit/fluent-bit.conf through the real Fluent Bit and through the model.
 */
import { generateKeyPairSync } from 'node:crypto';
import { RecordWriter } from '../../src/records/writer.js';
import type { RecordSink } from '../../src/records/sinks.js';
import { verifyRecords } from '../../src/records/verify.js';

/** containerd and CRI-O cut a log line into 16 KiB parts, each but the last marked P. */
const CRI_PART_BYTES = 16 * 1024;

export const CONTAINER_ID = 'c'.repeat(64);
/** /var/log/containers/<pod>_<namespace>_<container>-<id>.log of a broker container. */
export const BROKER_FILE = `agent-7d9f8-x2x4q_agents_seb-broker-${CONTAINER_ID}.log`;

export type Jwks = { keys: unknown[] };

/** Over 16 KiB of non-ASCII text: the CRI split falls inside a UTF-8 character. */
export const LONG_SPLIT_IN_CHARACTER = 'é☃😀'.repeat(3000);
/** Over 16 KiB, non-ASCII at its start only: the CRI split falls between characters. */
export const LONG_SPLIT_BETWEEN_CHARACTERS = `é☃😀${'x'.repeat(20_000)}`;

/**
 * A broker's stdout: signed records, including one whose request path is `long` (longer than a CRI
 * part), non-ASCII text and fractional durations.
 */
export async function brokerStdout(long = LONG_SPLIT_IN_CHARACTER): Promise<{ lines: string[]; jwks: Jwks }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const lines: string[] = [];
  const sink: RecordSink = {
    write: async (line) => void lines.push(line),
    close: async () => {},
  };
  const w = await RecordWriter.open({ brokerId: 'seb-agents-deployer', key: { kid: 'k1', privateKey }, sink, sign: 'every', stateFile: null });
  const decision = (path: string) =>
    w.decision({
      request: { method: 'PATCH', path, body_sha256: 'ab'.repeat(32) },
      certificate: { jti: 'c-1', iss: 'sab.example', sub: 'agent:deployer', op: 0 },
      decision: 'admit',
      reason: null,
      detail: null,
      identity: { user: 'seb:executor:deployer', groups: ['seb:executors'] },
    });
  await decision('/apis/apps/v1/namespaces/web/deployments/api');
  await decision(`/api/v1/namespaces/web/configmaps/${long}`);
  for (const duration_ms of [12.345, 0.001, 7, 1234.5]) {
    await w.outcome({ decision_seq: 1, status: 200, upstream_request_id: null, bytes_in: 10, bytes_out: 2048, duration_ms, error: null });
  }
  await w.close();
  return { lines, jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] } };
}

/** The lines a container runtime writes to /var/log/containers/<file> for these stdout lines. */
export function criLines(stdout: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of stdout) {
    const bytes = Buffer.from(line);
    for (let at = 0; at < bytes.length || at === 0; at += CRI_PART_BYTES) {
      const part = bytes.subarray(at, at + CRI_PART_BYTES);
      const last = at + CRI_PART_BYTES >= bytes.length;
      out.push(`2026-11-26T04:00:00.000000000Z stdout ${last ? 'F' : 'P'} ${part.toString('latin1')}`);
      if (last) break;
    }
  }
  return out;
}

/** `seb records verify` over lines a pipeline delivered (none: an empty stream). */
export async function verifyLines(lines: readonly string[] | undefined, jwks: Jwks): Promise<Awaited<ReturnType<typeof verifyRecords>>> {
  async function* from(): AsyncIterable<string> {
    yield* lines ?? [];
  }
  return verifyRecords(from(), jwks);
}
