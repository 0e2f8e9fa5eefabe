// Keeps the one reason registry, the reason table in docs/agents.md and SPEC §4 in step (STYLE: fastify errors test).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { REASONS, REASON_CODES } from '../src/reasons.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function tableRows(text: string): { codes: string[]; status: number }[] {
  const rows: { codes: string[]; status: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\| (`[a-z_]+`(?: \/ `[a-z_]+`)*) \| (\d{3}) \|/.exec(line);
    if (m) rows.push({ codes: [...m[1]!.matchAll(/`([a-z_]+)`/g)].map((c) => c[1]!), status: Number(m[2]) });
  }
  return rows;
}

t.test('docs/agents.md reason table lists every reason, in pipeline order, with its status', async (t) => {
  const rows = tableRows(readFileSync(`${root}docs/agents.md`, 'utf8'));
  t.same(
    rows.flatMap((r) => r.codes),
    REASON_CODES,
  );
  for (const row of rows) for (const code of row.codes) t.equal(row.status, REASONS[code as keyof typeof REASONS].status, code);
});

t.test('SPEC §4 lists the same reasons in the same order', async (t) => {
  const spec = `${root}../shared/SPEC.md`;
  if (!existsSync(spec)) throw new Error(`SPEC.md not found at ${spec}: the shared/ folder must sit beside the repository`);
  const rows = tableRows(readFileSync(spec, 'utf8'));
  t.same(
    rows.flatMap((r) => r.codes),
    REASON_CODES,
  );
  for (const row of rows) for (const code of row.codes) t.equal(row.status, REASONS[code as keyof typeof REASONS].status, code);
});
