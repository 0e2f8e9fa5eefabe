// docs/reference is generated from the code's own tables (scripts/docs.mjs): each committed page
// must be exactly what the code in src would generate now, and no page has a line of thousands of
// characters. After changing a table, `npm run docs` rewrites the pages.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSources, OUT, renderPages, ROOT, table, wrap } from '../scripts/docs.mjs';

const pages = await renderPages(await loadSources(new URL('../src/', import.meta.url)));
/** Reference pages another generator owns: `npm run conformance` writes aws-conformance.md from botocore. */
const OTHER_GENERATORS = new Set(['aws-conformance.md']);

t.test('every reference page is what the code generates', async (t) => {
  t.same(readdirSync(join(ROOT, OUT)).filter((f) => f.endsWith('.md') && !OTHER_GENERATORS.has(f)).sort(), Object.keys(pages).sort(), 'no page missing, none left over');
  for (const [name, text] of Object.entries(pages)) {
    t.equal(readFileSync(join(ROOT, OUT, name), 'utf8'), text, `${OUT}/${name} is current (npm run docs)`);
  }
});

t.test('no line of a reference page is a long list on one line', async (t) => {
  for (const [name, text] of Object.entries(pages)) {
    const longest = Math.max(...text.split('\n').map((l) => l.length));
    t.ok(longest < 1_000, `${name}: longest line ${longest} characters`);
  }
});

t.test('tables take every field any row has; lists wrap', async (t) => {
  t.equal(table([{ a: 1 }, { b: ['x', 'y'] }]), '| a | b |\n|---|---|\n| 1 |  |\n|  | `x`, `y` |');
  const lines = wrap(Array.from({ length: 100 }, (_, i) => `Operation${i}`)).split('\n');
  t.ok(lines.length > 5 && lines.every((l) => l.length <= 100), 'wrapped at 100 characters');
});
