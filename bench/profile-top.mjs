// Where the broker's CPU went: self time by function from a V8 .cpuprofile (SEB_BENCH_PROFILE=1
// npm run bench writes one to bench/results/profile/). Usage: node bench/profile-top.mjs [FILE] [N]
// `npm run bench:profile` (bench/profile.mjs) does the same per path over a measured window only.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { topFunctions } from './lib/cpu-profile.mjs';

const dir = fileURLToPath(new URL('results/profile/', import.meta.url));
const latest = () =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
const file = process.argv[2] ?? latest();
const { totalUs, table } = topFunctions(JSON.parse(readFileSync(file, 'utf8')), null, Number(process.argv[3] ?? 30));
console.log(`${file}: ${(totalUs / 1e6).toFixed(2)} s sampled`);
console.log(table);
