// k8s/fluent-bit/: the Fluent Bit config that ships the broker's records (SPEC §8), read statically,
// and run through a model of its pipeline (fluent-bit-model.ts) for what the real Fluent Bit in
// fluent-bit-real.test.ts (1.8.15, the one CI builds) cannot show: the number printing of Fluent Bit
// 2.1 and later ('%.16g'; the DaemonSet pins 3.2) and the commented S3 output's date key.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { parseClassicConfig, sectionsNamed, value, matches, type Section } from './fluent-bit-conf.js';
import { runPipeline, tagOf } from './fluent-bit-model.js';
import { BROKER_FILE, CONTAINER_ID as ID, brokerStdout, verifyLines as verify } from './broker-stdout.js';
import { get, K8S, render, type K8sObject } from './render.js';
import { templateOf } from './pod.js';

const DIR = join(K8S, 'fluent-bit');
const confText = readFileSync(join(DIR, 'fluent-bit.conf'), 'utf8');
const parsersText = readFileSync(join(DIR, 'parsers.conf'), 'utf8');
const conf = parseClassicConfig(confText);
const parsers = parseClassicConfig(parsersText);
const one = (sections: readonly Section[], name: string, plugin: string): Section => {
  const found = sectionsNamed(sections, name).filter((s) => value(s, 'Name') === plugin);
  if (found.length !== 1) throw new Error(`expected one [${name}] ${plugin}, found ${found.length}`);
  return found[0]!;
};

t.test('the classic config has the sections the pipeline needs', async (t) => {
  t.same(conf.map((s) => s.name), ['SERVICE', 'INPUT', 'FILTER', 'OUTPUT'], 'service, one input, one filter, one output (the rest are commented examples)');
  const service = conf[0]!;
  t.equal(value(service, 'Parsers_File'), '/fluent-bit/etc/parsers.conf');
  t.equal(value(service, 'Health_Check'), 'On');
  t.same(parsers.map((s) => [s.name, value(s, 'Name'), value(s, 'Format')]), [['PARSER', 'seb_record', 'json']]);
  for (const key of ['Time_Key', 'Time_Format', 'Time_Keep', 'Types', 'Decode_Field', 'Decode_Field_As']) {
    t.equal(value(parsers[0]!, key), undefined, `the parser has no ${key}: no field is taken out or re-typed`);
  }
  t.throws(() => parseClassicConfig('[INPUT]\nName tail\n'), /invalid indentation/, 'an unindented entry is not the classic format');
  t.throws(() => parseClassicConfig('[INPUT]\n    Name tail\n  Path /x\n'), /invalid indentation/, 'nor is a change of indentation');
  t.throws(() => parseClassicConfig('[INPUT]\n    Name\n'), /not a section header/, 'nor a key without a value');
});

t.test('the input takes the seb-broker containers only', async (t) => {
  const tail = one(conf, 'INPUT', 'tail');
  const glob = value(tail, 'Path')!;
  t.equal(glob, '/var/log/containers/*_seb-broker-*.log');
  t.equal(value(tail, 'multiline.parser'), 'cri');
  t.equal(value(tail, 'Skip_Long_Lines'), 'Off', 'a long record is never skipped');
  const globRe = new RegExp(`^${glob.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`);
  t.ok(globRe.test(`/var/log/containers/${BROKER_FILE}`));
  t.notOk(globRe.test(`/var/log/containers/agent-7d9f8-x2x4q_agents_agent-${ID}.log`), "the agent's own log is not read");
  const tag = tagOf(tail, BROKER_FILE);
  t.equal(tag, 'seb.agents.agent-7d9f8-x2x4q.seb-broker');
  // Older Fluent Bit versions match Tag_Regex against the file's base name, newer ones the full path.
  t.equal(tagOf(tail, `/var/log/containers/${BROKER_FILE}`), tag, 'the same tag from the full path');
  const filter = one(conf, 'FILTER', 'parser');
  const output = one(conf, 'OUTPUT', 'forward');
  t.ok(matches(filter, tag!) && matches(output, tag!), 'parsed and shipped');
  // The glob also takes a container the agent could call seb-broker-x; Match_Regex does not.
  const lookalike = tagOf(tail, `agent-7d9f8-x2x4q_agents_seb-broker-x-${ID}.log`)!;
  t.equal(lookalike, 'seb.agents.agent-7d9f8-x2x4q.seb-broker-x');
  t.notOk(matches(filter, lookalike) || matches(output, lookalike), 'a look-alike container is neither parsed nor shipped');
  t.equal(value(output, 'Require_ack_response'), 'true', 'a chunk counts when the receiver acknowledges it');
});

t.test('records come out of a newer Fluent Bit\'s pipeline verifiable', async (t) => {
  const { lines, jwks } = await brokerStdout();
  const out = runPipeline(conf, parsers, BROKER_FILE, lines, '%.16g');
  t.same([...out.keys()], ['forward']);
  const shipped = out.get('forward')!;
  t.equal(shipped.length, lines.length, 'every record shipped');
  t.match(await verify(shipped, jwks), { ok: true, records: lines.length, streams: [{ ended: true }] }, "'%.16g' floats: seb records verify passes");
  t.equal(runPipeline(conf, parsers, `agent-1_agents_agent-${ID}.log`, lines, '%.16g').size, 0, 'another container ships nothing');
});

t.test('the commented S3 example keeps the records intact only with json_date_key false', async (t) => {
  const { lines, jwks } = await brokerStdout();
  const withConf = (text: string): Section[] => parseClassicConfig(text);
  // The commented S3 output, enabled as written: json_date_key false keeps the records intact...
  const block = /^# \[OUTPUT\]\n(?:#\s{5}.*\n)+/m.exec(confText.slice(confText.indexOf('# [OUTPUT]')))?.[0];
  t.ok(block?.includes('Name              s3'), 'the S3 example is there');
  const s3 = block!.replace(/^# ?/gm, '');
  const withS3 = withConf(`${confText}\n${s3}`);
  t.equal(value(sectionsNamed(withS3, 'OUTPUT').at(-1)!, 'json_date_key'), 'false');
  t.match(await verify(runPipeline(withS3, parsers, BROKER_FILE, lines, '%.16g').get('s3'), jwks), { ok: true, records: lines.length });
  // ...and without it every record gains a `date` field.
  const dated = withConf(`${confText}\n${s3.replace(/^\s+json_date_key.*\n/m, '')}`);
  t.match(await verify(runPipeline(dated, parsers, BROKER_FILE, lines, '%.16g').get('s3'), jwks), { ok: false }, 'the default date key breaks them');
  t.throws(() => runPipeline(withConf(`${confText}\n[FILTER]\n    Name kubernetes\n    Match seb.*\n`), parsers, BROKER_FILE, lines, '%f'), /does not know filter kubernetes/);
});

t.test('the DaemonSet runs this config, and the forward-sink alternative is a valid broker config', async (t) => {
  for (const overlay of ['dev', 'eks']) {
    const objects = await render(`overlays/${overlay}`);
    const ds = get(objects, 'DaemonSet', 'seb-fluent-bit', 'seb-logging');
    const spec = templateOf(ds).spec;
    t.equal(spec.automountServiceAccountToken, false, `${overlay}: no API access (no metadata merged into records)`);
    const container = spec.containers[0]!;
    const mounts = Object.fromEntries((container.volumeMounts ?? []).map((m) => [m.name, m]));
    t.same(container.args, [`--config=${mounts['config']?.mountPath}/fluent-bit.conf`]);
    t.equal(`${mounts['config']?.mountPath}/parsers.conf`, value(conf[0]!, 'Parsers_File'), 'Parsers_File is in the config mount');
    const configMap = get(objects, 'ConfigMap', spec.volumes!.find((v) => v.name === 'config')!.configMap!.name, 'seb-logging');
    t.same(configMap['data'], { 'fluent-bit.conf': confText, 'parsers.conf': parsersText }, `${overlay}: the mounted config is the files`);
    t.ok(mounts['varlog']?.readOnly && '/var/log/containers/'.startsWith(`${mounts['varlog'].mountPath}/`), 'container logs, read-only');
    const state = mounts['state']!.mountPath;
    for (const path of [value(conf[0]!, 'storage.path')!, value(one(conf, 'INPUT', 'tail'), 'DB')!]) t.ok(path.startsWith(`${state}/`), `${path} survives a restart`);
    t.match(container.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    t.ok(objectsHaveForwardService(objects), `${overlay}: the node-local forward Service`);
  }

  // The fluent sink from the config's comment, dropped into the example seb.yaml, parses.
  const snippet = /^#\s+sink: (\{ fluent: .*\})$/m.exec(confText)?.[1];
  t.ok(snippet, 'the comment shows the sink');
  const objects = await render('overlays/eks');
  const seb = (get(objects, 'ConfigMap', 'seb-broker', 'agents')['data'] as Record<string, string>)['seb.yaml']!;
  t.match(seb, /^ {2}sink: stdout$/m);
  const config = parseConfig(seb.replace(/^ {2}sink: stdout$/m, `  sink: ${snippet}`), '/etc/seb');
  const sink = config.records.sink as { fluent: { host: string; port: number } };
  t.same(sink.fluent.host.split('.').slice(0, 2), ['seb-fluent-bit-forward', 'seb-logging'], 'the sink names the forward Service');
  t.equal(sink.fluent.port, 24224);
});

function objectsHaveForwardService(objects: readonly K8sObject[]): boolean {
  const svc = get(objects, 'Service', 'seb-fluent-bit-forward', 'seb-logging')['spec'] as { internalTrafficPolicy: string; ports: { port: number }[] };
  return svc.internalTrafficPolicy === 'Local' && svc.ports.some((p) => p.port === 24224);
}
