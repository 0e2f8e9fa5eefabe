/**
 * Field readers. Each reports at most one problem for its field and returns a placeholder when it
 * does; the placeholders never escape, because any problem makes parseConfig throw.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import type { Mapping, Value } from './strict-yaml.js';

const LISTEN = /^(?:\[([^\]]+)\]|([^:[\]]+)):(0|[1-9]\d{0,4})$/;

/**
 * One field as the validators see it. `quiet`: the parent was already reported as the wrong type,
 * so its children stay silent instead of each adding a `required` line.
 */
export interface Field {
  readonly path: string;
  readonly value: Value | undefined;
  readonly quiet: boolean;
}

export interface Ctx {
  readonly problems: string[];
  readonly baseDir: string;
}

export function isMapping(v: Value | undefined): v is Mapping {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: Value): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'a list' : 'a mapping';
}

export function report(c: Ctx, f: Field, message: string): void {
  c.problems.push(`${f.path === '' ? '(top level)' : f.path}: ${message}`);
}

function childPath(parent: string, key: string): string {
  const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (parent === '') return part;
  return part.startsWith('[') ? `${parent}${part}` : `${parent}.${part}`;
}

/**
 * A mapping with a fixed key set. Absent: its fields read as absent (defaults apply, required
 * fields are reported). Unknown keys are reported, each on its own line.
 */
export function section<K extends string>(c: Ctx, f: Field, keys: readonly K[]): Record<K, Field> {
  let quiet = f.quiet;
  let m: Mapping | undefined;
  if (!quiet && f.value !== undefined) {
    if (isMapping(f.value)) m = f.value;
    else {
      report(c, f, `must be a mapping, got ${describe(f.value)}`);
      quiet = true;
    }
  }
  if (m !== undefined) {
    for (const key of Object.keys(m)) {
      if (!(keys as readonly string[]).includes(key)) report(c, { ...f, path: childPath(f.path, key) }, 'unknown key');
    }
  }
  const out = {} as Record<K, Field>;
  for (const key of keys) out[key] = { path: childPath(f.path, key), value: m?.[key], quiet };
  return out;
}

/** A mapping from names the operator chooses (executors, endpoints) to values. */
export function entries(c: Ctx, f: Field): { key: string; field: Field }[] {
  if (f.quiet || f.value === undefined) return [];
  if (!isMapping(f.value)) {
    report(c, f, `must be a mapping, got ${describe(f.value)}`);
    return [];
  }
  const m = f.value;
  return Object.keys(m).map((key) => ({ key, field: { path: childPath(f.path, key), value: m[key], quiet: false } }));
}

export function list(c: Ctx, f: Field): Field[] {
  if (f.quiet || f.value === undefined) return [];
  if (!Array.isArray(f.value)) {
    report(c, f, `must be a list, got ${describe(f.value)}`);
    return [];
  }
  return f.value.map((value, i) => ({ path: `${f.path}[${i}]`, value, quiet: false }));
}

interface StrOpts {
  /** Returned when the field is absent; without it the field is required. */
  readonly def?: string;
  readonly secret?: boolean;
}

export function str(c: Ctx, f: Field, opts: StrOpts = {}): string {
  if (f.quiet) return '';
  if (f.value === undefined) {
    if (opts.def !== undefined) return opts.def;
    report(c, f, 'required');
    return '';
  }
  if (typeof f.value !== 'string') {
    report(c, f, `must be a string, got ${opts.secret ? (Array.isArray(f.value) ? 'a list' : typeof f.value) : describe(f.value)}`);
    return '';
  }
  if (f.value === '') {
    report(c, f, 'must not be empty');
    return '';
  }
  return f.value;
}

/** A string field whose absence (or explicit null) means null. */
export function optStr(c: Ctx, f: Field): string | null {
  return f.value === undefined || f.value === null ? null : str(c, f);
}

export function pathField(c: Ctx, f: Field, def?: string): string {
  const v = str(c, f, def === undefined ? {} : { def });
  return v === '' ? '' : resolve(c.baseDir, v);
}

export function optPath(c: Ctx, f: Field): string | null {
  const v = optStr(c, f);
  return v === null || v === '' ? v : resolve(c.baseDir, v);
}

/** A positive integer; without `def` the field is required. */
export function posInt(c: Ctx, f: Field, def?: number): number {
  if (f.quiet) return def ?? 1;
  if (f.value === undefined) {
    if (def === undefined) report(c, f, 'required');
    return def ?? 1;
  }
  if (typeof f.value !== 'number' || !Number.isSafeInteger(f.value) || f.value <= 0) {
    report(c, f, `must be a positive integer, got ${describe(f.value)}`);
    return def ?? 1;
  }
  return f.value;
}

export function bool(c: Ctx, f: Field, def: boolean): boolean {
  if (f.quiet || f.value === undefined) return def;
  if (typeof f.value !== 'boolean') {
    report(c, f, `must be true or false, got ${describe(f.value)}`);
    return def;
  }
  return f.value;
}

export function oneOf<T extends string>(c: Ctx, f: Field, choices: readonly T[], def: T): T {
  if (f.quiet || f.value === undefined) return def;
  if (typeof f.value !== 'string' || !(choices as readonly string[]).includes(f.value)) {
    report(c, f, `must be one of ${choices.join(', ')}, got ${describe(f.value)}`);
    return def;
  }
  return f.value as T;
}

export function strList(c: Ctx, f: Field): string[] {
  return list(c, f).map((item) => str(c, item));
}

/** `host:port` with an IPv4, `[IPv6]` or `localhost` host (SPEC §1). */
export function listenAddr(c: Ctx, f: Field, def: string): string {
  const v = str(c, f, { def });
  if (v === '') return def;
  const m = LISTEN.exec(v);
  const host = m?.[1] ?? m?.[2];
  const ok =
    m !== null &&
    Number(m[3]) <= 65535 &&
    (m[1] !== undefined ? isIPv6(m[1]) : host === 'localhost' || isIPv4(host ?? ''));
  if (!ok) report(c, f, `must be host:port with an IPv4, [IPv6] or localhost host and a port 0-65535, got ${describe(v)}`);
  return v;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h === '[::1]' || (isIPv4(h) && h.startsWith('127.'));
}

/** Parses a URL, or reports it; `schemes` lists the accepted protocols without the colon. */
export function url(c: Ctx, f: Field, schemes: readonly string[]): URL | null {
  const v = str(c, f);
  if (v === '') return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    report(c, f, `must be a URL, got ${describe(v)}`);
    return null;
  }
  const scheme = u.protocol.slice(0, -1);
  if (!schemes.includes(scheme)) {
    report(c, f, `must be a ${schemes.map((s) => `${s}://`).join(' or ')} URL, got ${describe(v)}`);
    return null;
  }
  return u;
}

/** An https URL, or http to a loopback host (local issuers, tests). */
export function httpsOrLoopback(c: Ctx, f: Field): string {
  const u = url(c, f, ['https', 'http']);
  if (u === null) return '';
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    report(c, f, `must be https:// (http:// only to a loopback host), got ${describe(u.href)}`);
  }
  return u.href;
}
