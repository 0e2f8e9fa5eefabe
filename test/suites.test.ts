// The two suites (scripts/test-suites.mjs) split the test files: each file tap would run is in
// exactly one, no unit test reaches a peer, a child process or a fixed sleep, and the rule
// classifies a new file by what it imports. The unit suite's groups (one process each) hold every
// unit file once, and in a group each file's `tap` is its own subtest.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { e2eReason, PEER_HELPERS, ROOT, suites, testFiles, testImports, unitGroups, WALL_CLOCK, writeGroupEntries } from '../scripts/test-suites.mjs';
import { initialize, resolve } from './helpers/file-group-hooks.mjs';

t.test('every test file is in exactly one suite', async (t) => {
  const all = testFiles();
  const { unit, e2e } = suites();
  t.ok(all.length > 50, `found the test files (${all.length})`);
  t.same([...unit, ...e2e].sort(), all, 'nothing left out');
  t.same(unit.filter((f) => e2e.includes(f)), [], 'nothing in both');
  t.ok(unit.includes('test/suites.test.ts'), 'this file is a unit test');
});

t.test('every named wall-clock test and peer helper exists', async (t) => {
  for (const f of [...Object.keys(WALL_CLOCK), ...PEER_HELPERS]) t.ok(existsSync(join(ROOT, f)), f);
});

t.test('no unit test reaches a peer, a child process, the built dist or a fixed sleep', async (t) => {
  const sleeps = /timers\/promises|setTimeout\(\s*r(?:es(?:olve)?)?\s*,\s*\d/;
  for (const f of suites().unit) {
    for (const dep of testImports(f)) {
      const text = readFileSync(join(ROOT, dep), 'utf8');
      t.notOk(PEER_HELPERS.includes(dep) || /['"]node:child_process['"]/.test(text), `${f}: ${dep} starts no peer or process`);
      if (dep === f) t.notOk(sleeps.test(text), `${f} does not sleep`);
    }
  }
});

t.test('a new file is classified by what it imports', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'seb-suites-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'test', 'helpers'), { recursive: true });
  mkdirSync(join(root, 'test', 'e2e'));
  const write = (f: string, text: string) => writeFileSync(join(root, f), text);
  write('test/helpers/moto.ts', 'export const startMoto = 1;\n');
  write('test/helpers/world.ts', "import { startMoto } from './moto.js';\nexport const w = startMoto;\n");
  // Spelled in pieces so that this file itself does not match the rule it tests.
  const childProcess = ['node', 'child_process'].join(':');
  write('test/helpers/spawner.ts', `import { spawn } from '${childProcess}';\nexport const s = spawn;\n`);
  write('test/pure.test.ts', "import t from 'tap';\nt.pass('x');\n");
  write('test/indirect.test.ts', "import { w } from './helpers/world.js';\nvoid w;\n");
  write('test/spawns.test.ts', "import { s } from './helpers/spawner.js';\nvoid s;\n");
  write('test/dist.test.ts', `const cli = new URL('${['..', 'dist', 'cli', 'main.js'].join('/')}', import.meta.url);\nvoid cli;\n`);
  write('test/e2e/any.test.ts', "import t from 'tap';\nt.pass('x');\n");
  t.same(suites(root), { unit: ['test/pure.test.ts'], e2e: ['test/dist.test.ts', 'test/e2e/any.test.ts', 'test/indirect.test.ts', 'test/spawns.test.ts'] });
  t.match(e2eReason('test/indirect.test.ts', root), /peer \(test\/helpers\/moto\.ts\)/, 'through another helper');
});

t.test('the unit groups hold every unit file once, one folder each', async (t) => {
  const groups = unitGroups();
  const grouped = [...groups.values()].flat();
  t.same([...grouped].sort(), suites().unit, 'every unit file, and only those');
  t.equal(new Set(grouped).size, grouped.length, 'none twice');
  t.ok(groups.size < suites().unit.length / 4, `far fewer processes than files (${groups.size})`);
  t.same(groups.get('top'), ['test/docs.test.ts', 'test/reasons.test.ts', 'test/structure.test.ts', 'test/suites.test.ts'], 'the files of test/ itself');
  for (const [name, files] of groups) if (name !== 'top') t.ok(files.every((f) => f.startsWith(`test/${name}/`)), `${name}: one folder`);
});

t.test('a group entry runs its files through the group runner, by repo-relative path', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'seb-groups-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'test', 'lib'), { recursive: true });
  writeFileSync(join(root, 'test', 'lib', 'a.test.ts'), "import t from 'tap';\nt.pass('a');\n");
  writeFileSync(join(root, 'test', 'top.test.ts'), "import t from 'tap';\nt.pass('top');\n");
  t.same(writeGroupEntries(root), ['.tap/unit/lib.mjs', '.tap/unit/top.mjs']);
  const entry = readFileSync(join(root, '.tap', 'unit', 'lib.mjs'), 'utf8');
  t.match(entry, /import \{ runFiles \} from '\.\.\/\.\.\/test\/helpers\/file-group\.ts';/);
  t.match(entry, /await runFiles\(\[\s*"test\/lib\/a\.test\.ts"\s*\]\);/);
});

t.test("in a group, only the grouped files' own import of tap is pointed at their subtest", async (t) => {
  const file = pathToFileURL(join(ROOT, 'test', 'lib', 'jcs.test.ts')).href;
  const helper = pathToFileURL(join(ROOT, 'test', 'helpers', 'reason.ts')).href;
  const tap = pathToFileURL(join(ROOT, 'test', 'helpers', 'file-group-tap.ts')).href;
  initialize({ files: [file], tap });
  const asked: string[] = [];
  const next = async (specifier: string) => (asked.push(specifier), { url: specifier });
  await resolve('tap', { parentURL: file }, next);
  await resolve('tap', { parentURL: helper }, next);
  await resolve('./x.js', { parentURL: file }, next);
  t.same(asked, [`${tap}?of=${encodeURIComponent(file)}`, 'tap', './x.js'], 'one instance per file; helpers and other imports untouched');
});
