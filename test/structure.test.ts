// Layers point one way: no import cycles in src/ (type-only imports count: they tie the modules
// together for a reader just the same), and the layers named below never import upwards.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const IMPORT = /(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? modules(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

const files = modules(SRC);
const known = new Set(files);
const graph = new Map<string, string[]>();
for (const file of files) {
  const out: string[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const target = normalize(join(dirname(file), (m[1] ?? m[2])!)).replace(/\.js$/, '.ts');
    if (known.has(target)) out.push(target);
  }
  graph.set(file, out);
}
const name = (f: string): string => relative(SRC, f);

/** Every cycle found by a depth-first walk, each as the path that closes it. */
function cycles(): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const walk = (v: string): void => {
    state.set(v, 'open');
    path.push(v);
    for (const w of graph.get(v)!) {
      if (state.get(w) === 'open') found.push([...path.slice(path.indexOf(w)), w].map(name));
      else if (!state.has(w)) walk(w);
    }
    path.pop();
    state.set(v, 'done');
  };
  for (const f of files) if (!state.has(f)) walk(f);
  return found;
}

t.test('src/ has no import cycles', async (t) => {
  t.same(cycles(), []);
});

// The layers of src/, from the bottom up (docs/architecture.md "Layers"). A module may import its
// own folder, the folders of its own rank and those below, never one above: the contract (op
// types, op schema, body binding, the generic matcher) sits below the certificate that carries
// it, each target's reading and matching sits above both, and only the runner (server/) ties the
// targets to the certificate, authority, ledger and records. `(root)` is src/reasons.ts.
const LAYERS: readonly (readonly string[])[] = [
  ['(root)', 'lib'],
  ['config', 'records'],
  ['contract'],
  ['certificate'],
  ['authority', 'identity', 'replay'],
  ['targets'],
  ['server', 'inject'],
  ['cli', 'dev'],
];
const folderOf = (f: string): string => (name(f).includes('/') ? name(f).split('/')[0]! : '(root)');
const rankOf = (folder: string): number => LAYERS.findIndex((rank) => rank.includes(folder));
t.test('every top-level folder of src/ has a layer', async (t) => {
  t.same([...new Set(files.map(folderOf))].filter((f) => rankOf(f) < 0), []);
});
t.test('lower layers never import higher ones', async (t) => {
  const upward: string[] = [];
  for (const [file, deps] of graph) {
    for (const dep of deps) if (rankOf(folderOf(dep)) > rankOf(folderOf(file))) upward.push(`${name(file)} -> ${name(dep)}`);
  }
  t.same(upward, []);
});

// Preconditions live in types (STYLE.md): a stage receives what earlier stages guaranteed (the phases
// of targets/target.ts, the runner's Certified and Admitted), so the pipeline and the targets never
// assert a value non-null. The pattern is a `!` right after a name or a call, before `.`, `)`, `;`,
// `,` or `]` (`!=` and `!==` never match). An index after a length or regex check (`m[1]!`, under
// noUncheckedIndexedAccess) is not a stage's state and is left to the parsers.
const NON_NULL = /[\w$)]!(?=[.);,\]])/;
t.test('src/server/ and src/targets/ assert nothing non-null', async (t) => {
  const asserted: string[] = [];
  for (const file of files.filter((f) => /^(server|targets)\//.test(name(f)))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => NON_NULL.test(line) && asserted.push(`${name(file)}:${i + 1}: ${line.trim()}`));
  }
  t.same(asserted, []);
});

// Files stay small (STYLE.md "no god file"): a module over this many lines is split along its seams.
const MAX_LINES = 300;
// Generated data only, never hand-written code: today it lives in JSON beside the code that reads
// it (src/targets/aws/data/*.json), which this check does not count, so the list is empty. A
// generated .ts module would be named here, with the script that writes it.
const GENERATED: ReadonlySet<string> = new Set<string>([]);
t.test(`no hand-written src module is over ${MAX_LINES} lines`, async (t) => {
  const over: string[] = [];
  for (const file of files) {
    if (GENERATED.has(name(file))) continue;
    const lines = readFileSync(file, 'utf8').split('\n').length - 1;
    if (lines > MAX_LINES) over.push(`${name(file)}: ${lines}`);
  }
  t.same(over, []);
});

// Settings are read once at start, where the process starts: the CLI (and the development tools)
// read the environment and pass what it says on; the broker's own modules never look at it.
t.test('only cli/ and dev/ read the environment', async (t) => {
  const readers = files.filter((f) => !/^(cli|dev)\//.test(name(f)) && /\bprocess\.env\b/.test(readFileSync(f, 'utf8'))).map(name);
  t.same(readers, []);
});

// The stand-in apiserver, issuer and demo are development tools: `seb run` (cli/main.ts and what
// it imports statically) never loads them, so their modules need not ship with the broker.
t.test('no dev/ module is on the static import path of cli/main.ts', async (t) => {
  const STATIC = /(?:import|export)(?!\s+type\b)[^'"]*?from\s+['"](\.[^'"]+)['"]/g;
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC)) {
      const target = normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts');
      if (known.has(target)) visit(target);
    }
  };
  visit(join(SRC, 'cli/main.ts'));
  t.same([...seen].map(name).filter((n) => n.startsWith('dev/')), []);
});

// The broker image installs only `dependencies` (sidecar/Dockerfile: npm prune --omit=dev). Every
// package a module of `seb run` imports, statically or on first use, is declared there; the
// development sandbox (dev/, loaded by `seb dev` on demand) may use devDependencies.
t.test('the modules seb run loads import only declared runtime dependencies', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  const SPECIFIER = /(?:import|export)(?!\s+type\b)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  const packageOf = (spec: string): string => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  const seen = new Set<string>();
  const used = new Map<string, string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2] ?? '';
      if (spec.startsWith('.')) {
        const target = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
        if (known.has(target) && !name(target).startsWith('dev/')) visit(target);
      } else if (!spec.startsWith('node:')) used.set(packageOf(spec), name(file));
    }
  };
  visit(join(SRC, 'cli/main.ts'));
  t.ok(seen.has(join(SRC, 'server/broker.ts')), 'the walk reaches the broker');
  t.same([...used].filter(([p]) => !Object.hasOwn(pkg.dependencies, p)).map(([p, by]) => `${p} (imported by ${by})`), []);
});

