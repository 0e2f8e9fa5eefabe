/**
 * Conformance of the broker's AWS reader against botocore (issue 13): every operation of every
 * service, serialised by botocore itself (scripts/aws-conformance.py), is fed to the reader
 * in-process and judged. An operation is read exactly when the broker names the same service and
 * operation, keeps every URI label botocore put in the path, and the op `seb op capture` prints
 * for it admits the very same request. Anything else is a refusal (with its reason), a reading as
 * another operation (always a bug: the goal is zero), a mismatch, or a crash.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSTALL_HINTS, requirePeer } from '../helpers/peers.js';
import { outcome } from '../fuzz/harness.js';
import { capture, decide, understand, type Req } from '../fuzz/aws-requests.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GENERATOR = join(ROOT, 'scripts', 'aws-conformance.py');
/** Generated requests are large (the full set is tens of MB) and botocore-version specific: cached, not committed. */
const CACHE = join(ROOT, '.cache', 'aws-conformance');
/** Operations per protocol in the sample the normal test suite checks (6 protocols: about 300). */
export const SAMPLE_PER_PROTOCOL = 50;

/** One line of the generator's output. */
export interface Serialised {
  readonly service: string;
  readonly operation: string;
  readonly protocol: string;
  /** Set when botocore itself could not build the request from the generated input. */
  readonly error?: string;
  readonly signingName?: string;
  readonly auth?: string | null;
  readonly labels?: Readonly<Record<string, string>>;
  /** The operation's `endpoint.hostPrefix`, filled from the input (`123456789012.`); `''` when none. */
  readonly hostPrefix?: string;
  /** Operations this minimal request is too, byte for byte (same method, URI and bound members). */
  readonly sameWire?: readonly string[];
  readonly method?: string;
  readonly path?: string;
  readonly query?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export type Verdict =
  | { readonly kind: 'exact' }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'unsigned'; readonly reason: string }
  | { readonly kind: 'other'; readonly detail: string }
  | { readonly kind: 'mismatch'; readonly detail: string }
  | { readonly kind: 'crash'; readonly detail: string }
  | { readonly kind: 'unbuilt'; readonly detail: string };

export type Kind = Verdict['kind'];
export const KINDS: readonly Kind[] = ['exact', 'refused', 'unsigned', 'other', 'mismatch', 'crash', 'unbuilt'];

/**
 * The model's auth values for an operation the SDK sends without a signature (`authtype: none`,
 * smithy's `noAuth`): Cognito's sign-in calls, STS AssumeRoleWithWebIdentity. The broker reads the
 * service from the SigV4 scope (SPEC §2.1), so it refuses these by design; they are counted apart.
 */
const UNSIGNED_AUTH: ReadonlySet<string> = new Set(['none', 'smithy.api#noAuth']);

/** True when botocore sent `s` unsigned because its model says so. */
export function isUnsigned(s: Serialised): boolean {
  return s.auth != null && UNSIGNED_AUTH.has(s.auth) && s.headers?.['authorization'] === undefined;
}

/** botocore's requests for `mode`, generated once per botocore version and generator revision. */
export function serialised(mode: 'sample' | 'full'): Serialised[] {
  const python = requirePeer('python3', INSTALL_HINTS.python3);
  const version = spawnSync(python, ['-c', 'import botocore; print(botocore.__version__)'], { encoding: 'utf8', timeout: 60_000 });
  if (version.status !== 0) throw new Error(`botocore is not importable by ${python}: ${INSTALL_HINTS.botocore}`);
  const revision = createHash('sha256').update(readFileSync(GENERATOR)).digest('hex').slice(0, 12);
  const file = join(CACHE, `${version.stdout.trim()}-${revision}-${mode}.jsonl`);
  if (!existsSync(file)) {
    const args = mode === 'sample' ? [GENERATOR, '--sample', String(SAMPLE_PER_PROTOCOL)] : [GENERATOR];
    const run = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 3_600_000 });
    if (run.status !== 0) throw new Error(`${GENERATOR} failed: ${run.stderr}`);
    mkdirSync(CACHE, { recursive: true });
    // Written whole, then renamed: a run cut off half-way never leaves a truncated cache behind.
    writeFileSync(`${file}.tmp`, run.stdout);
    renameSync(`${file}.tmp`, file);
  }
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Serialised);
}

/**
 * The Host a client sends. The broker's own address for all but S3 Control, which is signed `s3`
 * like S3 and is told apart only by its host (upstream-host.ts isS3Control): there a client
 * addresses `[<account>.]s3-control.<region>...`, with the account id where the model has the
 * host prefix (as botocore does with host prefix injection on).
 */
function hostOf(s: Serialised): string {
  return s.service === 's3control' ? `${s.hostPrefix ?? ''}s3-control.us-east-1.amazonaws.com` : '127.0.0.1:4566';
}

/** The request as the broker receives it: botocore's prepared request plus the Host its HTTP client adds. */
export function toReq(s: Serialised): Req {
  return {
    method: s.method!,
    path: s.path!,
    query: s.query!,
    headers: { host: hostOf(s), ...s.headers },
    body: Buffer.from(s.body!, 'base64'),
  };
}

/** A refusal's reason with this request's own names taken out, so that one cause groups as one line. */
function reasonOf(s: Serialised, code: string, message: string): string {
  let m = message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
  for (const [name, placeholder] of [
    [s.operation, '<operation>'],
    [s.signingName ?? s.service, '<service>'],
    [s.service, '<service>'],
  ] as const) {
    // Whole words only: the service `es` is not the `es` in `request`.
    m = m.replace(new RegExp(`(?<![\\w-])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'g'), placeholder);
  }
  return `${code}: ${m}`;
}

/** Judges one serialised operation against the broker's reader and capture path. */
export function judge(s: Serialised): Verdict {
  if (s.error !== undefined) return { kind: 'unbuilt', detail: s.error };
  const r = toReq(s);
  let read;
  try {
    read = outcome(() => understand(r));
  } catch (err) {
    return { kind: 'crash', detail: String(err) };
  }
  if (!read.ok) return { kind: isUnsigned(s) ? 'unsigned' : 'refused', reason: reasonOf(s, read.code, read.denial.message) };
  const got = read.value.operation;
  // A request that is byte for byte another operation too (S3's deprecated GetBucketLifecycle) is
  // read as the one the broker models: the service itself cannot tell which the client meant.
  const sameOperation = got.operation === s.operation || (s.sameWire ?? []).includes(got.operation);
  if (!sameOperation || got.service !== s.signingName) {
    return { kind: 'other', detail: `read as ${got.service}:${got.operation}` };
  }
  // A label the reader dropped would let one certificate admit requests on other resources.
  const seen = [got.resource, ...Object.values(got.params)].join('\n');
  for (const [label, value] of Object.entries(s.labels ?? {})) {
    if (!seen.includes(value)) return { kind: 'mismatch', detail: `the label ${label} (${value}) is in neither the resource nor the params` };
  }
  const op = outcome(() => capture(r));
  if (!op.ok) return { kind: 'mismatch', detail: `read, but capture refuses it: ${op.denial.message}` };
  const admitted = decide(op.value, r);
  if (!admitted.ok) return { kind: 'mismatch', detail: `the captured op does not admit its own request: ${admitted.denial.message}` };
  return { kind: 'exact' };
}

export interface Tally {
  total: number;
  counts: Record<Kind, number>;
}

export interface Summary {
  readonly all: Tally;
  readonly byProtocol: Map<string, Tally>;
  readonly byService: Map<string, Tally & { protocol: string }>;
  /** Refusal reason → the operations refused for it (service:operation); unsigned ones apart. */
  readonly refusals: Map<string, string[]>;
  /** Every verdict other than exact and refused, one line each: these are the bugs. */
  readonly problems: string[];
  /** Operations the SDK sends unsigned, refused by design (service:operation). */
  readonly unsigned: string[];
}

const tally = (): Tally => ({ total: 0, counts: { exact: 0, refused: 0, unsigned: 0, other: 0, mismatch: 0, crash: 0, unbuilt: 0 } });

export function summarise(items: readonly Serialised[]): Summary {
  const s: Summary = { all: tally(), byProtocol: new Map(), byService: new Map(), refusals: new Map(), problems: [], unsigned: [] };
  for (const item of items) {
    const v = judge(item);
    const service = s.byService.get(item.service) ?? { ...tally(), protocol: item.protocol };
    const protocol = s.byProtocol.get(item.protocol) ?? tally();
    s.byService.set(item.service, service);
    s.byProtocol.set(item.protocol, protocol);
    for (const t of [s.all, protocol, service]) {
      t.total++;
      t.counts[v.kind]++;
    }
    const name = `${item.service}:${item.operation}`;
    if (v.kind === 'refused') s.refusals.set(v.reason, [...(s.refusals.get(v.reason) ?? []), name]);
    else if (v.kind === 'unsigned') s.unsigned.push(name);
    else if (v.kind !== 'exact') s.problems.push(`${v.kind} ${name}: ${v.detail}`);
  }
  return s;
}
