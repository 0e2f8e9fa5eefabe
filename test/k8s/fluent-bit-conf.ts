/**
 * Fluent Bit's classic configuration format, read as Fluent Bit reads it (the static checks and the
 * model read the files by this reading, after
 * src/config_format/flb_cf_fluentbit.c): `[SECTION]` headers, then `Key Value` lines indented all
 * alike (the first indented line sets the indentation); `#` starts a comment line, at the start or at
 * that indentation; a key needs a value; keys are case-insensitive.
 */

export interface Section {
  readonly name: string;
  /** Keys lower-cased, in file order; a key may repeat (e.g. several Match lines are an error). */
  readonly entries: readonly (readonly [string, string])[];
  readonly line: number;
}

export function parseClassicConfig(text: string): Section[] {
  const sections: { name: string; entries: [string, string][]; line: number }[] = [];
  /** The first indented line sets the file's indentation; every other one must use it (check_indent). */
  let indent: string | null = null;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\s+$/, '');
    if (line === '' || line.startsWith('#')) return;
    const header = /^\[([A-Z_]+)\]$/.exec(line);
    if (header) {
      sections.push({ name: header[1]!, entries: [], line: i + 1 });
      return;
    }
    const lead = /^[ \t]*/.exec(line)![0];
    indent ??= lead;
    if (lead === '' || lead !== indent) throw new Error(`line ${i + 1}: invalid indentation level (the file indents with ${JSON.stringify(indent)}): ${raw}`);
    if (line.slice(lead.length).startsWith('#')) return;
    const entry = /^\s+(\S+) +(\S.*)$/.exec(line);
    if (!entry) throw new Error(`line ${i + 1}: not a section header, an indented "Key Value" or a comment: ${raw}`);
    const current = sections.at(-1);
    if (!current) throw new Error(`line ${i + 1}: an entry before any section`);
    current.entries.push([entry[1]!.toLowerCase(), entry[2]!]);
  });
  return sections;
}

/** The one value of `key` in `section`, or undefined; a repeated key is an error. */
export function value(section: Section, key: string): string | undefined {
  const found = section.entries.filter(([k]) => k === key.toLowerCase());
  if (found.length > 1) throw new Error(`[${section.name}] at line ${section.line}: ${key} given ${found.length} times`);
  return found[0]?.[1];
}

export function sectionsNamed(sections: readonly Section[], name: string): Section[] {
  return sections.filter((s) => s.name === name);
}

/**
 * Does a Match / Match_Regex of `section` take `tag`? Match is a glob where `*` is any run of
 * characters; Match_Regex a regular expression (Onigmo in Fluent Bit; the ones here are plain
 * enough to read the same in JavaScript).
 */
export function matches(section: Section, tag: string): boolean {
  const regex = value(section, 'Match_Regex');
  const glob = value(section, 'Match');
  if ((regex === undefined) === (glob === undefined)) throw new Error(`[${section.name}] at line ${section.line}: exactly one of Match, Match_Regex`);
  if (regex !== undefined) return new RegExp(regex).test(tag);
  const pattern = glob!.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${pattern}$`).test(tag);
}
