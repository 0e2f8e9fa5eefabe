// The stage table (src/server/stages.ts) is the one source of the pipeline's order: the reason
// registry, the metric stage names and the architecture page must follow it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { PIPELINE, STAGES } from '../../src/server/stages.js';
import { REASON_CODES } from '../../src/reasons.js';

t.test('the reason registry lists the codes in stage order, each once', async (t) => {
  t.same(REASON_CODES, PIPELINE.flatMap((s) => s.reasons));
});

t.test('the metric stages are the timed stages, in pipeline order', async (t) => {
  t.same([...STAGES], PIPELINE.filter((s) => s.timed).map((s) => s.name));
  t.same([...STAGES], ['certificate', 'match', 'replay', 'drift', 'mint', 'sign', 'record', 'upstream'], 'the metric labels operators chart stay as they were');
});

t.test('docs/architecture.md shows the stage table as the code has it', async (t) => {
  const page = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');
  const section = page.slice(page.indexOf('## The stages'), page.indexOf('## The adapter'));
  const rows = [...section.matchAll(/^\| `([a-z]+)` \| (.*?) \| (.*?) \|$/gm)].map((m) => ({
    name: m[1],
    reasons: m[2] === '' ? [] : m[2]!.split(', ').map((r) => r.replace(/`/g, '')),
  }));
  t.same(rows, PIPELINE.map((s) => ({ name: s.name, reasons: [...s.reasons] })));
});
