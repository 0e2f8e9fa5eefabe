/**
 * RFC 6902 JSON Patch from two versions of a document. The injector builds the pod it wants and
 * sends the difference, so a reinvocation (nothing left to change) answers an empty patch and no
 * op ever depends on an index an earlier op shifted: a list whose length changes is replaced whole.
 */
import { isDeepStrictEqual } from 'node:util';
import { isObject, type Json } from './pod.js';

export type JsonPatchOp =
  | { readonly op: 'add' | 'replace'; readonly path: string; readonly value: Json }
  | { readonly op: 'remove'; readonly path: string };

/** RFC 6901: `~` and `/` inside a key are escaped, in this order, so `seb.dev/x` is `seb.dev~1x`. */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The ops that turn `from` into `to`. Absent objects are created with one `add` of the whole value. */
export function diff(from: unknown, to: Json, path = ''): JsonPatchOp[] {
  if (isDeepStrictEqual(from, to)) return [];
  if (isObject(from) && isObject(to)) {
    const ops: JsonPatchOp[] = [];
    for (const key of Object.keys(from)) {
      if (!Object.hasOwn(to, key)) ops.push({ op: 'remove', path: `${path}/${pointerSegment(key)}` });
    }
    for (const [key, value] of Object.entries(to) as [string, Json][]) {
      const at = `${path}/${pointerSegment(key)}`;
      if (Object.hasOwn(from, key)) ops.push(...diff(from[key], value, at));
      else ops.push({ op: 'add', path: at, value });
    }
    return ops;
  }
  if (Array.isArray(from) && Array.isArray(to) && from.length === to.length) {
    return to.flatMap((value, i) => diff(from[i], value, `${path}/${i}`));
  }
  return [{ op: 'replace', path, value: to }];
}
