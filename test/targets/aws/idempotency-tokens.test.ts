// The idempotency-token table (data/idempotency-tokens.json) is generated from the services the
// broker serves (services.json). When it lagged behind the REST routing, `seb op capture` pinned
// the token the aws CLI draws per call (EKS CreateCluster, Scheduler CreateScheduleGroup, ...), so
// every such certified command was refused body_mismatch.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tokens from '../../../src/targets/aws/data/idempotency-tokens.json' with { type: 'json' };

const services = tokens.services as Record<string, Record<string, string[]>>;

t.test('rest-json services the router reads have their tokens', async (t) => {
  t.same(services['eks']?.['CreateCluster'], ['/clientRequestToken']);
  t.same(services['scheduler']?.['CreateScheduleGroup'], ['/ClientToken']);
  t.same(services['scheduler']?.['DeleteScheduleGroup'], ['query:clientToken'], 'a query-bound token');
});

t.test('the table is what the generator writes from the committed services.json', async (t) => {
  const root = new URL('../../../', import.meta.url).pathname;
  const copy = mkdtempSync(join(tmpdir(), 'gen-tokens-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(join(root, 'scripts'), join(copy, 'scripts'), { recursive: true });
  mkdirSync(join(copy, 'src/targets/aws/data'), { recursive: true });
  cpSync(join(root, 'src/targets/aws/data/services.json'), join(copy, 'src/targets/aws/data/services.json'));
  execFileSync('python3', [join(copy, 'scripts/gen-idempotency-tokens.py')], { stdio: 'ignore' });
  const file = 'src/targets/aws/data/idempotency-tokens.json';
  t.ok(readFileSync(join(copy, file)).equals(readFileSync(join(root, file))), 'regenerate with `python3 scripts/gen-idempotency-tokens.py`');
});
