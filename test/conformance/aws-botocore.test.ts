/**
 * Conformance against botocore (issue 13). In `npm test`: a fixed sample of SAMPLE_PER_PROTOCOL
 * operations per protocol. `npm run conformance` (SEB_CONFORMANCE=full): every operation of every
 * service, then the report page is rewritten and the floor raised to what was read.
 *
 * Strict: no operation is ever read as another one, and the reader never crashes. Ratchet: the
 * number read exactly never falls below the floor in aws-floor.json, so a regression fails here
 * and an improvement raises the floor (`npm run conformance` writes it; commit it with the change).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, serialised, summarise, type Summary } from './aws-botocore.js';
import { headline, PAGE, renderPage } from './aws-report.js';

const MODE = process.env['SEB_CONFORMANCE'] === 'full' ? 'full' : 'sample';
const FLOOR_FILE = join(ROOT, 'test', 'conformance', 'aws-floor.json');

interface Level {
  /** Operations read exactly: never fewer. */
  exact: number;
  /**
   * Operations read today as another operation (service:operation), each a known bug waiting for
   * issue 13's reader (S3 Control is read as S3 objects): never a new one; `npm run conformance`
   * drops the ones fixed.
   */
  readAsAnother: string[];
}

interface Floor {
  /** The botocore whose models set the floor: another version may have other operations. */
  botocore: string;
  sample: Level;
  full: Level;
}

/** service:operation of every operation read as another one. */
function otherOps(s: Summary): string[] {
  return s.problems.filter((p) => p.startsWith('other ')).map((p) => p.slice('other '.length, p.indexOf(': ')));
}

const floor = JSON.parse(readFileSync(FLOOR_FILE, 'utf8')) as Floor;
const items = serialised(MODE);
const summary = summarise(items);
const botocore = spawnSync('python3', ['-c', 'import botocore; print(botocore.__version__)'], { encoding: 'utf8' }).stdout.trim();

t.test(`${MODE}: ${headline(summary)}`, async (t) => {
  t.ok(items.length >= (MODE === 'full' ? 10_000 : 250), `${items.length} operations serialised`);
  const other = otherOps(summary);
  const known = new Set(floor[MODE].readAsAnother);
  t.same(
    other.filter((o) => !known.has(o)),
    [],
    'no operation is read as another operation (beyond the known ones in aws-floor.json)',
  );
  const fixed = floor[MODE].readAsAnother.filter((o) => !other.includes(o));
  if (fixed.length > 0) t.comment(`no longer read as another operation (npm run conformance drops them): ${fixed.join(', ')}`);
  const crashes = summary.problems.filter((p) => p.startsWith('crash '));
  t.same(crashes, [], 'the reader denies or reads, never crashes');
  const exact = summary.all.counts.exact;
  t.ok(exact >= floor[MODE].exact, `read exactly: ${exact}, floor ${floor[MODE].exact} (botocore ${floor.botocore} set it, this is ${botocore})`);
  if (exact > floor[MODE].exact) t.comment(`above the floor: \`npm run conformance\` raises it to ${exact}`);
  for (const [protocol, tally] of summary.byProtocol) t.comment(`${protocol}: ${tally.counts.exact} / ${tally.total}`);
});

if (MODE === 'full') {
  writeFileSync(join(ROOT, PAGE), renderPage(summary, botocore));
  // Raised, never lowered (a new botocore starts afresh); the sample is judged on its own run.
  const same = floor.botocore === botocore;
  const sample = summarise(serialised('sample'));
  const level = (s: typeof summary, old: Level): Level => ({
    exact: Math.max(same ? old.exact : 0, s.all.counts.exact),
    readAsAnother: same ? old.readAsAnother.filter((o) => otherOps(s).includes(o)) : otherOps(s),
  });
  const raised: Floor = { botocore, sample: level(sample, floor.sample), full: level(summary, floor.full) };
  writeFileSync(FLOOR_FILE, JSON.stringify(raised, null, 2) + '\n');
}
