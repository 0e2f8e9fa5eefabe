import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from './store.js';
import { appliedFields, strategicMerge, valueAt } from './patch.js';
import { StatusError } from './status.js';

/**
 * Server-side apply, minimally (reference/k8s.md §8 item 4: "an upsert honouring fieldManager and
 * force"). Each Apply manager owns the leaf paths it last applied, kept as FieldsV1 in
 * `metadata.managedFields`; applying a different value to a path another Apply manager owns is a
 * 409 Conflict unless `force=true`, which moves the ownership. Not modelled: Update managers'
 * ownership, removal of fields a manager stops applying, list-element ownership.
 */
export function serverSideApply(existing: KubeObject | undefined, applied: KubeObject, manager: string, force: boolean, now: Date): KubeObject {
  const mine = appliedFields(applied);
  const entries = managedFields(existing);
  if (existing !== undefined && !force) {
    const conflicts: string[] = [];
    for (const e of entries) {
      if (e.operation !== 'Apply' || e.manager === manager) continue;
      for (const path of fieldsToPaths(e.fieldsV1)) {
        if (mine.some((p) => isDeepStrictEqual(p, path)) && !isDeepStrictEqual(valueAt(existing, path), valueAt(applied, path))) {
          conflicts.push(`conflict with "${e.manager}": .${path.join('.')}`);
        }
      }
    }
    if (conflicts.length > 0) {
      throw new StatusError('Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${conflicts.join('\n')}`, {
        name: String(applied.metadata['name'] ?? ''),
      });
    }
  }
  const merged = strategicMerge(existing ?? {}, applied) as KubeObject;
  const others = entries
    .filter((e) => e.manager !== manager || e.operation !== 'Apply')
    .map((e) => (force && e.operation === 'Apply' ? { ...e, fieldsV1: pathsToFields(fieldsToPaths(e.fieldsV1).filter((p) => !mine.some((m) => isDeepStrictEqual(m, p)))) } : e));
  merged.metadata['managedFields'] = [
    ...others,
    {
      manager,
      operation: 'Apply',
      apiVersion: applied['apiVersion'],
      time: now.toISOString().replace(/\.\d+Z$/, 'Z'),
      fieldsType: 'FieldsV1',
      fieldsV1: pathsToFields(mine),
    },
  ];
  return merged;
}

interface ManagedEntry {
  manager: string;
  operation: string;
  fieldsV1: Record<string, unknown>;
  [k: string]: unknown;
}

function managedFields(o: KubeObject | undefined): ManagedEntry[] {
  const m = o?.metadata['managedFields'];
  return Array.isArray(m) ? (m as ManagedEntry[]) : [];
}

/** FieldsV1 spells each map key `f:<key>` and a leaf `{}`. */
function pathsToFields(paths: string[][]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let cur = root;
    for (const seg of p) cur = (cur[`f:${seg}`] ??= {}) as Record<string, unknown>;
  }
  return root;
}

function fieldsToPaths(f: Record<string, unknown>, prefix: string[] = []): string[][] {
  const keys = Object.keys(f ?? {}).filter((k) => k.startsWith('f:'));
  if (keys.length === 0) return prefix.length === 0 ? [] : [prefix];
  return keys.flatMap((k) => fieldsToPaths(f[k] as Record<string, unknown>, [...prefix, k.slice(2)]));
}
