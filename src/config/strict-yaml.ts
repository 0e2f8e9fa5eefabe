/**
 * Strict YAML: one document, YAML 1.2 core schema (`yes` is a string), unique keys, no tags, no
 * merge keys, string keys only. Anything else is a problem, never a guess.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';

/** A YAML value after strict reading; mappings have a null prototype (`__proto__` is a plain key). */
export type Value = string | number | boolean | null | Value[] | Mapping;
export interface Mapping {
  [key: string]: Value;
}

/** Reads one document; on any problem it records a line in `problems` and returns undefined. */
export function readYaml(text: string, problems: string[]): Value | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    schema: 'core',
    version: '1.2',
    uniqueKeys: true,
    merge: false,
    strict: true,
    prettyErrors: false,
    lineCounter: lines,
  });
  const at = (offset: number): string => {
    const { line, col } = lines.linePos(offset);
    return `line ${line}, column ${col}`;
  };
  for (const e of [...doc.errors, ...doc.warnings]) problems.push(`${at(e.pos[0])}: ${e.message}`);
  // The core schema ignores a `%YAML 1.1` directive; refuse it rather than read 1.1 text as 1.2.
  if (doc.directives.yaml.explicit && doc.directives.yaml.version !== '1.2') {
    problems.push('line 1, column 1: only YAML 1.2 is accepted');
  }
  if (problems.length > 0) return undefined;
  return toValue(doc.contents, { doc, problems, at, stack: new Set(), aliases: 0 });
}

/** Expanding aliases copies their target, so a few lines could otherwise expand exponentially. */
const MAX_ALIASES = 100;

interface YamlWalk {
  readonly doc: Document;
  readonly problems: string[];
  readonly at: (offset: number) => string;
  /** Nodes being converted, so an alias to its own ancestor is refused instead of looping. */
  readonly stack: Set<unknown>;
  aliases: number;
}

function toValue(node: unknown, w: YamlWalk): Value {
  if (node === null || node === undefined) return null;
  const where = w.at((node as { range?: [number] }).range?.[0] ?? 0);
  if (w.stack.has(node)) {
    w.problems.push(`${where}: alias refers to its own ancestor`);
    return null;
  }
  if (isAlias(node)) {
    if (++w.aliases > MAX_ALIASES) {
      if (w.aliases === MAX_ALIASES + 1) w.problems.push(`${where}: more than ${MAX_ALIASES} aliases`);
      return null;
    }
    w.stack.add(node);
    const value = toValue(node.resolve(w.doc), w);
    w.stack.delete(node);
    return value;
  }
  if ((node as { tag?: string }).tag !== undefined) {
    w.problems.push(`${where}: YAML tags are not allowed`);
    return null;
  }
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    w.problems.push(`${where}: unsupported scalar`);
    return null;
  }
  w.stack.add(node);
  let out: Value = null;
  if (isSeq(node)) {
    out = node.items.map((item) => toValue(item, w));
  } else if (isMap(node)) {
    const map: Mapping = Object.create(null) as Mapping;
    for (const pair of node.items) {
      const key = isScalar(pair.key) && pair.key.tag === undefined ? pair.key.value : undefined;
      if (typeof key !== 'string') {
        w.problems.push(`${w.at((pair.key as { range?: [number] } | null)?.range?.[0] ?? 0)}: mapping keys must be strings`);
        continue;
      }
      map[key] = toValue(pair.value, w);
    }
    out = map;
  } else {
    w.problems.push(`${where}: unsupported YAML node`);
  }
  w.stack.delete(node);
  return out;
}
