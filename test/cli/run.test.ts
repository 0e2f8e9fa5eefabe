// `seb run` reads the environment once, at start, and hands the broker what it says (issue 12:
// settings compiled once; the broker's modules read no environment, test/structure.test.ts).
import t from 'tap';
import { stsRegion } from '../../src/cli/run.js';

t.test('the STS region is the AWS_REGION the CLI was given, else the broker default', async (t) => {
  t.same(stsRegion({ AWS_REGION: 'eu-west-3' }), { stsRegion: 'eu-west-3' });
  t.same(stsRegion({ AWS_DEFAULT_REGION: 'eu-west-3' }), {}, 'only AWS_REGION, as before');
  t.same(stsRegion({}), {});
});
