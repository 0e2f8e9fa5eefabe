/**
 * Kept beside the real Fluent Bit (fluent-bit-real.test.ts) for what CI's 1.8.15 cannot show: the
 * '%.16g' number printing of Fluent Bit 2.1 and later, and outputs with no peer here (S3).
 * A model of what k8s/fluent-bit/fluent-bit.conf does to a broker's stdout, driven by the parsed
 * config itself, so that a change to the config that would break the records' signatures fails the
 * test: the tail input (CRI lines, P parts joined), the tag from Tag_Regex, the parser filter
 * (Key_Name, Reserve_Data, Preserve_Key; the parser's Time_Key / Time_Keep), and the outputs' date
 * key. Its number printing is Fluent Bit's: integers as integers, other numbers with '%f' (Fluent Bit
 * before 2.1) or '%.16g' (later). Anything the model does not know (another filter, a parser
 * decoder, Types) is an error, never silently passed.
 */
import { matches, sectionsNamed, value, type Section } from './fluent-bit-conf.js';
import { criLines } from './broker-stdout.js';

export type FloatFormat = '%f' | '%.16g';

/** The tag the tail input gives a file: Tag with <name> placeholders filled from Tag_Regex. */
export function tagOf(input: Section, file: string): string | null {
  const template = value(input, 'Tag')!;
  const regex = value(input, 'Tag_Regex');
  if (regex === undefined) return template.replace('*', file.replace(/\//g, '.'));
  const m = new RegExp(regex).exec(file);
  if (!m?.groups) return null;
  return template.replace(/<([a-z_]+)>/g, (_, name: string) => m.groups![name] ?? '');
}

function formatNumber(n: number, floats: FloatFormat): string {
  if (Number.isInteger(n)) return String(n);
  return floats === '%f' ? n.toFixed(6) : String(Number(n.toPrecision(16)));
}

function toJson(v: unknown, floats: FloatFormat): string {
  if (typeof v === 'number') return formatNumber(v, floats);
  if (Array.isArray(v)) return `[${v.map((x) => toJson(x, floats)).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toJson(x, floats)}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}

function parserFilter(event: Record<string, unknown>, filter: Section, parsers: readonly Section[]): Record<string, unknown> {
  const key = value(filter, 'Key_Name')!;
  const parser = sectionsNamed(parsers, 'PARSER').find((p) => value(p, 'Name') === value(filter, 'Parser'));
  if (!parser) throw new Error(`no [PARSER] named ${value(filter, 'Parser')}`);
  if (value(parser, 'Format') !== 'json') throw new Error('the model knows json parsers only');
  for (const unknown of ['Types', 'Decode_Field', 'Decode_Field_As']) {
    if (value(parser, unknown) !== undefined) throw new Error(`the parser re-types fields (${unknown})`);
  }
  const raw = event[key];
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(String(raw)) as Record<string, unknown>;
  } catch {
    return event; // Fluent Bit leaves an unparseable record as it was.
  }
  // A parser with a time format takes the event time from Time_Key (default "time") and, unless
  // Time_Keep is On, removes that field (flb_parser_json.c).
  if (value(parser, 'Time_Format') !== undefined && !/^on$/i.test(value(parser, 'Time_Keep') ?? '')) {
    delete parsed[value(parser, 'Time_Key') ?? 'time'];
  }
  const preserve = /^on$/i.test(value(filter, 'Preserve_Key') ?? 'off');
  if (/^on$/i.test(value(filter, 'Reserve_Data') ?? 'off')) {
    const rest = { ...event };
    if (!preserve) delete rest[key];
    return { ...rest, ...parsed };
  }
  return preserve ? { [key]: raw, ...parsed } : parsed;
}

/**
 * The lines an output writes (JSON lines, one event each) for a container's stdout, as the config
 * routes them. `file` is the container log's name under /var/log/containers/.
 */
export function runPipeline(conf: readonly Section[], parsers: readonly Section[], file: string, stdout: readonly string[], floats: FloatFormat): Map<string, string[]> {
  const tails = sectionsNamed(conf, 'INPUT').filter((s) => value(s, 'Name') === 'tail');
  if (tails.length !== 1) throw new Error('the model expects one tail input');
  const input = tails[0]!;
  if (!/\bcri\b/.test(value(input, 'multiline.parser') ?? '')) throw new Error('the tail input does not read CRI lines');
  const tag = tagOf(input, file);
  const outputs = new Map<string, string[]>();
  if (tag === null) return outputs;
  let joined = '';
  for (const line of criLines(stdout)) {
    const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s.exec(line)!;
    joined += m[4];
    if (m[3] === 'P') continue;
    let event: Record<string, unknown> = { time: m[1], stream: m[2], _p: 'F', log: Buffer.from(joined, 'latin1').toString() };
    joined = '';
    for (const filter of sectionsNamed(conf, 'FILTER')) {
      if (!matches(filter, tag)) continue;
      if (value(filter, 'Name') !== 'parser') throw new Error(`the model does not know filter ${value(filter, 'Name')}: it may change the records`);
      event = parserFilter(event, filter, parsers);
    }
    for (const output of sectionsNamed(conf, 'OUTPUT')) {
      if (!matches(output, tag)) continue;
      const name = value(output, 'Name')!;
      // Outputs that write JSON add the event time under json_date_key unless it is "false";
      // forward sends the time beside the record, not in it.
      const dateKey = name === 'forward' ? 'false' : (value(output, 'json_date_key') ?? 'date');
      const written = dateKey === 'false' ? event : { ...event, [dateKey]: 1795000000.123 };
      const lines = outputs.get(name) ?? [];
      lines.push(toJson(written, floats));
      outputs.set(name, lines);
    }
  }
  return outputs;
}
