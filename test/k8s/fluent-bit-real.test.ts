/**
 * k8s/fluent-bit/fluent-bit.conf run by a real Fluent Bit (1.8.15, .ci/fluent-bit.sh) over CRI log
 * files holding a broker's records: the tail input, the CRI multiline parser joining a record split
 * into 16 KiB parts, the Tag_Regex, the parser filter, and the forward output (acknowledgements
 * required) into a second Fluent Bit whose forward input prints what arrived. The records must still
 * pass `seb records verify`. Only paths, ports and the output's host differ from the shipped file.
 */
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8S } from './render.js';
import { BROKER_FILE, CONTAINER_ID, LONG_SPLIT_BETWEEN_CHARACTERS, brokerStdout, criLines, verifyLines } from './broker-stdout.js';
import { freePort, startFluentBit, type FluentBit } from '../helpers/fluent-bit.js';
import { until } from '../helpers/until.js';

const DIR = join(K8S, 'fluent-bit');
const confText = readFileSync(join(DIR, 'fluent-bit.conf'), 'utf8');
const parsersText = readFileSync(join(DIR, 'parsers.conf'), 'utf8');

/** Replaces one `Key value` line of the shipped config; fails if the key is not there exactly once. */
function set(text: string, key: string, to: string): string {
  const re = new RegExp(`^(\\s+${key.replace(/\./g, '\\.')}\\s+)\\S.*$`, 'gm');
  const n = text.match(re)?.length ?? 0;
  if (n !== 1) throw new Error(`${key} appears ${n} times in fluent-bit.conf`);
  return text.replace(re, `$1${to}`);
}

/**
 * Writes the CRI files (the broker's, another container's, a look-alike seb-broker-x), runs the
 * config (edited by `edit`, parsers by `parsers`) until the receiver has `expect` records or 20 s
 * pass, and answers what the receiver printed.
 */
async function runConfig(t: Test, stdout: readonly string[], expect: number, edit = (c: string) => c, parsers = parsersText): Promise<string[]> {
  const root = mkdtempSync(join(tmpdir(), 'seb-fluent-bit-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const logs = join(root, 'containers');
  mkdirSync(logs);
  const cri = (lines: readonly string[]) => Buffer.from(criLines(lines).map((l) => `${l}\n`).join(''), 'latin1');
  writeFileSync(join(logs, BROKER_FILE), cri(stdout));
  writeFileSync(join(logs, `agent-7d9f8-x2x4q_agents_agent-${CONTAINER_ID}.log`), cri(stdout));
  writeFileSync(join(logs, `agent-7d9f8-x2x4q_agents_seb-broker-x-${CONTAINER_ID.replace(/c/g, 'd')}.log`), cri(stdout));

  const receiverPort = await freePort();
  const receiver = await startFluentBit(
    ['-f', '1', '-i', 'forward', '-p', 'listen=127.0.0.1', '-p', `port=${receiverPort}`, '-o', 'stdout', '-p', 'format=json_lines', '-p', 'json_date_key=false', '-m', '*'],
    receiverPort,
  );
  t.teardown(() => receiver.stop());

  const httpPort = await freePort();
  writeFileSync(join(root, 'parsers.conf'), parsers);
  let conf = confText;
  for (const [key, to] of [
    ['Parsers_File', join(root, 'parsers.conf')],
    ['HTTP_Listen', '127.0.0.1'],
    ['HTTP_Port', String(httpPort)],
    ['storage.path', join(root, 'storage')],
    ['Path', join(logs, '*_seb-broker-*.log')],
    ['DB', join(root, 'seb-tail.db')],
    ['Host', '127.0.0.1'],
    ['Port', String(receiverPort)],
  ] as const) {
    conf = set(conf, key, to);
  }
  writeFileSync(join(root, 'fluent-bit.conf'), edit(conf));
  const shipper: FluentBit = await startFluentBit(['-c', join(root, 'fluent-bit.conf')], httpPort);
  t.teardown(() => shipper.stop());
  const arrived = await until(() => receiver.lines.length >= expect, 20_000);
  if (!arrived) t.comment(`shipper log:\n${shipper.log.slice(-15).join('\n')}`);
  // A little longer: anything beyond `expect` (a look-alike container shipped) must show too.
  await new Promise((r) => setTimeout(r, 1_500));
  return receiver.lines;
}

t.test('the shipped config delivers the broker container\'s records, verifiable, and nothing else', async (t) => {
  const { lines, jwks } = await brokerStdout(LONG_SPLIT_BETWEEN_CHARACTERS);
  t.ok(lines.some((l) => Buffer.byteLength(l) > 16 * 1024), 'a record longer than one CRI part');
  const shipped = await runConfig(t, lines, lines.length);
  t.equal(shipped.length, lines.length, 'each record once: the parts joined, the agent\'s and the look-alike container\'s logs not shipped');
  t.notOk(shipped.some((l) => l.includes('"log"') || l.includes('"_p"')), 'the CRI wrapper is gone');
  t.match(await verifyLines(shipped, jwks), { ok: true, records: lines.length, streams: [{ ended: true }] }, 'seb records verify passes');
});

// Found by running it for real: containerd cuts at 16 KiB of bytes, possibly inside a UTF-8
// character, and Fluent Bit 1.8.15 (built on Debian's Oniguruma) does not match that part with
// the cri parser, so the record ships as two raw events. Not silent: verify names the break.
// Whether 3.2 (with its bundled Onigmo) joins it is not tested here (docs/real-parts.md).
t.test('a part that ends inside a UTF-8 character: the break is caught by verify, not shipped silently', async (t) => {
  const { lines, jwks } = await brokerStdout();
  const shipped = await runConfig(t, lines, lines.length + 1);
  t.equal(shipped.length, lines.length + 1, 'the long record arrives as two raw events');
  t.equal(shipped.filter((l) => l.includes('"log"')).length, 2);
  t.match(await verifyLines(shipped, jwks), { ok: false }, 'seb records verify fails');
});

t.test('what would break the records, run for real', async (t) => {
  const { lines, jwks } = await brokerStdout(LONG_SPLIT_BETWEEN_CHARACTERS);
  // Reserve_Data On keeps the CRI wrapper fields beside the record's: no longer the record.
  const reserved = await runConfig(t, lines, lines.length, (c) => set(c, 'Reserve_Data', 'On'));
  t.equal(reserved.length, lines.length);
  t.match(await verifyLines(reserved, jwks), { ok: false }, 'Reserve_Data On breaks them');
  // A parser that takes its time from a field removes that field (a record's `ts`).
  const timed = await runConfig(t, lines, lines.length, undefined, `${parsersText}    Time_Key    ts\n    Time_Format %Y-%m-%dT%H:%M:%S.%LZ\n`);
  t.equal(timed.length, lines.length);
  t.notOk(timed.some((l) => l.includes('"ts"')), 'the ts field is gone');
  t.match(await verifyLines(timed, jwks), { ok: false }, 'a Time_Key breaks them');
});
