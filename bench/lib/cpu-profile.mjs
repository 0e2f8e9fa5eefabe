// Self time by function (and by package) from a V8 .cpuprofile, optionally only over a window of
// the monotonic clock: V8's sample timestamps and process.hrtime are both CLOCK_MONOTONIC in µs on
// Linux, so the load generator can cut away a broker's startup and warm-up.

const where = (callFrame) => (callFrame.url ? `${callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${callFrame.lineNumber + 1}` : '(native)');

/** The package (or `seb`, `node:` internals, native) a frame belongs to. */
function owner(callFrame) {
  const url = callFrame.url;
  if (!url) return '(native, GC)';
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1];
  if (url.startsWith('node:')) return 'node: internals';
  return url.includes('/dist/') ? 'seb' : url;
}

/**
 * The `n` functions with the most self time in `window` ([fromUs, toUs], or null for all), as a
 * markdown table, with the same totals by package.
 */
export function topFunctions(profile, window, n) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id));
  const self = new Map();
  let t = profile.startTime;
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    t += us;
    if (window && (t < window[0] || t > window[1])) return;
    // Waiting is not CPU: the shares are of the time the broker was busy.
    if (idle.has(id)) return;
    totalUs += us;
    self.set(id, (self.get(id) ?? 0) + us);
  });
  const byFunction = new Map();
  const byOwner = new Map();
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id);
    const key = `${callFrame.functionName || '(anonymous)'} ${where(callFrame)}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byOwner.set(owner(callFrame), (byOwner.get(owner(callFrame)) ?? 0) + us);
  }
  const rows = (map, limit) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([key, us]) => `| ${((us / totalUs) * 100).toFixed(1)} | ${(us / 1000).toFixed(0)} | ${key.replaceAll('|', '\\|')} |`);
  const table = [
    '| self % | self ms | function |',
    '| --- | --- | --- |',
    ...rows(byFunction, n),
    '',
    '| self % | self ms | package |',
    '| --- | --- | --- |',
    ...rows(byOwner, 12),
  ].join('\n');
  return { totalUs, table };
}
