#!/usr/bin/env node
/**
 * Which suite each test file belongs to, by what it needs (issue 15):
 *
 * - e2e: the file lives under test/e2e/, or what it imports (following its imports inside test/)
 *   starts a child process (`node:child_process`), runs the built `dist/`, or is a peer helper
 *   (moto, the aws CLI, kubectl, redis, a `seb` process); or it is named in WALL_CLOCK below.
 * - unit: everything else. No peers, no child processes, only in-process loopback servers.
 *
 * A new test file is classified by that rule without being listed. The unit suite runs in groups,
 * one process per folder (unitGroups below); each e2e file runs in its own process. Run as a script,
 * it runs tap on one suite: `node scripts/test-suites.mjs unit|e2e|all [tap options]` (all: unit,
 * then e2e, both run whatever the first's outcome); `list unit|e2e [--why]` prints the files, `list
 * groups` the unit groups.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Helpers that start or call a real peer; importing one (even through another helper) makes a test e2e. */
export const PEER_HELPERS = ['moto', 'aws-cli', 'kubectl', 'redis', 'seb-run'].map((h) => `test/helpers/${h}.ts`);

/**
 * Tests with no peer that still wait on the wall clock (real timeouts, sleeps for batching or
 * polling). They run with the e2e suite until their time is injected; the reason says what waits.
 */
export const WALL_CLOCK = {
  'test/faults/client-away.test.ts': 'upstream delays of 1-2 s and sleeps for the broker to notice a gone client',
  'test/faults/hostile-clients.test.ts': 'Node header and request deadlines, trickled bytes every 200 ms',
  'test/faults/sts.test.ts': 'the real 5 s mint bound (STS slower than it)',
  'test/faults/upstream.test.ts': 'upstream timeouts against a stalling loopback server',
  'test/faults/authority.test.ts': 'staleness and reconnects of a real authority source',
  'test/faults/clock.test.ts': 'records and certificates across real seconds',
};

/**
 * tap's bound on one file, which only catches a hang. An e2e file drives real CLIs and peers, one
 * after another; on a machine busy with other work that can take several times its quiet 60-130 s.
 */
const FILE_TIMEOUT_S = { unit: 300, e2e: 900 };

/** Every test file tap would run (package.json "tap.include": test/**\/*.test.ts), repo-relative. */
export function testFiles(root = ROOT) {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts')) out.push(relative(root, p).split(sep).join('/'));
    }
  };
  walk(join(root, 'test'));
  return out.sort();
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** The files under test/ that `file` imports, directly or through other test files. */
export function testImports(file, root = ROOT) {
  const seen = new Set();
  const visit = (f) => {
    if (seen.has(f)) return;
    seen.add(f);
    const text = readFileSync(join(root, f), 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2]).replace(/\.js$/, '.ts');
      const target = relative(root, resolve(join(root, dirname(f)), spec)).split(sep).join('/');
      if (target.startsWith('test/') && existsSync(join(root, target))) visit(target);
    }
  };
  visit(file);
  return [...seen];
}

/** Why `file` is e2e, or null when it is a unit test. */
export function e2eReason(file, root = ROOT) {
  if (file.startsWith('test/e2e/')) return 'under test/e2e/';
  if (file in WALL_CLOCK) return `waits on the wall clock: ${WALL_CLOCK[file]}`;
  for (const f of testImports(file, root)) {
    if (PEER_HELPERS.includes(f)) return `uses a peer (${f})`;
    const text = readFileSync(join(root, f), 'utf8');
    if (/['"]node:child_process['"]/.test(text)) return `starts a child process (${f})`;
    if (/\.\.\/dist\//.test(text)) return `runs the built dist (${f})`;
  }
  return null;
}

/** Both suites' files: every test file is in exactly one. */
export function suites(root = ROOT) {
  const unit = [];
  const e2e = [];
  for (const f of testFiles(root)) (e2eReason(f, root) === null ? unit : e2e).push(f);
  return { unit, e2e };
}

/**
 * The unit suite's processes: one per folder of test/ (its subfolders included; `top` for the files
 * of test/ itself), its files run one after another in it (test/helpers/file-group.ts), because
 * starting a test process costs ~1.9 s of CPU (tap's runtime, its processinfo hook, tsx) whatever
 * the file does. Name → files.
 */
export function unitGroups(root = ROOT) {
  const groups = new Map();
  for (const f of suites(root).unit) {
    const parts = f.split('/');
    const name = parts.length > 2 ? parts[1] : 'top';
    groups.set(name, [...(groups.get(name) ?? []), f]);
  }
  return groups;
}

/** Where the groups' entry files are written for tap to run: under .tap/, tap's own (ignored) folder. */
const GROUP_DIR = '.tap/unit';

/** Writes one entry file per unit group (tap runs files, one process each); returns their paths. */
export function writeGroupEntries(root = ROOT) {
  const dir = join(root, GROUP_DIR);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const runner = relative(dir, join(root, 'test', 'helpers', 'file-group.ts')).split(sep).join('/');
  return [...unitGroups(root)].map(([name, files]) => {
    const entry = join(dir, `${name}.mjs`);
    const text = [
      `// Written by scripts/test-suites.mjs: the unit tests of test/${name === 'top' ? '' : `${name}/`}, in one process.`,
      `import { runFiles } from '${runner}';`,
      `await runFiles(${JSON.stringify(files, null, 2)});`,
      '',
    ].join('\n');
    writeFileSync(entry, text);
    return relative(root, entry).split(sep).join('/');
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [what, ...rest] = process.argv.slice(2);
  const all = suites();
  if (what === 'list' && rest[0] === 'groups') {
    for (const [name, files] of unitGroups()) console.log(`${name}\t${files.join(' ')}`);
  } else if (what === 'list') {
    const files = all[rest[0]];
    if (!files) throw new Error('usage: test-suites.mjs list unit|e2e|groups');
    for (const f of files) console.log(rest[1] === '--why' ? `${f}\t${e2eReason(f) ?? 'unit'}` : f);
  } else {
    const names = what === 'all' ? ['unit', 'e2e'] : [what];
    if (!names.every((n) => all[n])) throw new Error('usage: test-suites.mjs unit|e2e|all [tap options]');
    const tap = join(ROOT, 'node_modules', '.bin', 'tap');
    let failed = false;
    for (const n of names) {
      const run = n === 'unit' ? writeGroupEntries() : all[n];
      console.log(`# suite ${n}: ${all[n].length} files${n === 'unit' ? ` in ${run.length} processes` : ''}`);
      failed = spawnSync(tap, [`--timeout=${FILE_TIMEOUT_S[n]}`, ...rest, ...run], { cwd: ROOT, stdio: 'inherit' }).status !== 0 || failed;
    }
    process.exit(failed ? 1 : 0);
  }
}
