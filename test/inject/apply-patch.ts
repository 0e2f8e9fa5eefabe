/**
 * A small RFC 6902 apply (add, remove, replace: what the injector emits) written for the injector's tests, on its own
 * so that a mistake in the injector's patch builder is not mirrored by the code that checks it.
 * It throws on anything RFC 6902 calls an error: a missing parent, a replace or remove of an
 * absent member, an array index out of range, a malformed pointer.
 */
type Json = unknown;

interface Op {
  readonly op: string;
  readonly path: string;
  readonly value?: Json;
}

export function applyPatch(doc: Json, ops: readonly Op[]): Json {
  let out = structuredClone(doc);
  for (const op of ops) {
    if (op.path === '') {
      if (op.op !== 'replace' && op.op !== 'add') throw new Error(`${op.op} of the whole document`);
      out = structuredClone(op.value);
      continue;
    }
    const segments = parsePointer(op.path);
    const last = segments.pop()!;
    const parent = walk(out, segments, op.path);
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true, op.path), 0, structuredClone(op.value));
        else (parent as Record<string, Json>)[last] = structuredClone(op.value);
        break;
      case 'replace':
      case 'remove': {
        if (Array.isArray(parent)) {
          const i = arrayIndex(parent, last, false, op.path);
          if (op.op === 'remove') parent.splice(i, 1);
          else parent[i] = structuredClone(op.value);
        } else {
          const obj = parent as Record<string, Json>;
          if (!Object.hasOwn(obj, last)) throw new Error(`${op.op} of absent member ${op.path}`);
          if (op.op === 'remove') delete obj[last];
          else obj[last] = structuredClone(op.value);
        }
        break;
      }
      default:
        throw new Error(`unsupported op ${op.op}`);
    }
  }
  return out;
}

function parsePointer(path: string): string[] {
  if (!path.startsWith('/')) throw new Error(`bad pointer ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => {
      if (/~[^01]|~$/.test(s)) throw new Error(`bad escape in ${path}`);
      return s.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

function walk(doc: Json, segments: readonly string[], path: string): Json {
  let cur = doc;
  for (const s of segments) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, s, false, path)];
    else if (typeof cur === 'object' && cur !== null && Object.hasOwn(cur, s)) cur = (cur as Record<string, Json>)[s];
    else throw new Error(`no member ${s} on the way to ${path}`);
  }
  if (typeof cur !== 'object' || cur === null) throw new Error(`parent of ${path} is not a container`);
  return cur;
}

function arrayIndex(arr: readonly Json[], s: string, forAdd: boolean, path: string): number {
  if (forAdd && s === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(s)) throw new Error(`bad array index in ${path}`);
  const i = Number(s);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new Error(`array index out of range in ${path}`);
  return i;
}
