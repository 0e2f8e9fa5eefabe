// Where the broker's CPU went: self time by function from a V8 .cpuprofile (SEB_BENCH_PROFILE=1
// npm run bench writes one to bench/results/profile/). Usage: node bench/profile-top.mjs [FILE] [N]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('results/profile/', import.meta.url));
const latest = () =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
const file = process.argv[2] ?? latest();
const top = Number(process.argv[3] ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
let total = 0;
profile.samples.forEach((id, i) => {
  const us = dt[i] ?? 0;
  total += us;
  self.set(id, (self.get(id) ?? 0) + us);
});
const byFunction = new Map();
for (const [id, us] of self) {
  const { callFrame } = byId.get(id);
  const where = callFrame.url ? `${callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${callFrame.lineNumber + 1}` : '(native)';
  const key = `${callFrame.functionName || '(anonymous)'} ${where}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
}
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
console.log('| self % | self ms | function |\n| --- | --- | --- |');
for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`| ${((us / total) * 100).toFixed(1)} | ${(us / 1000).toFixed(0)} | ${key} |`);
}
