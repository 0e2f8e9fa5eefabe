// One measured load run with autocannon, keeping what its own histogram rounds away: every
// response's latency as a float (sub-millisecond matters here) and the broker's Server-Timing.
import autocannon from 'autocannon';

/** Requests each connection may carry per second at a fixed rate: more connections, more queueing. */
const RATE_PER_CONNECTION = 200;

/**
 * Runs `request` against `url`: at `rate` req/s for `seconds` (autocannon paces per connection and
 * second), or closed-loop with `connections` for the peak. `nextHeaders(i)` gives per-request
 * headers (a fresh certificate). Stops at `amount` requests if given.
 */
export async function runLoad({ url, request, nextHeaders, rate = null, connections = 32, seconds, amount = undefined }) {
  const latencies = [];
  const stages = {};
  const statuses = {};
  /** Why the broker refused, by X-SEB-Reason: a run with errors says what went wrong. */
  const reasons = {};
  let sent = 0;
  const opts = {
    url,
    connections: rate ? Math.max(1, Math.ceil(rate / RATE_PER_CONNECTION)) : connections,
    duration: seconds,
    ...(amount ? { amount } : {}),
    ...(rate ? { overallRate: rate } : {}),
    timeout: 10,
    requests: [
      {
        ...request,
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...nextHeaders(sent++) } }),
      },
    ],
    setupClient(client) {
      client.on('headers', ({ headers }) => {
        for (let i = 0; i < headers.length; i += 2) {
          const name = String(headers[i]).toLowerCase();
          if (name === 'x-seb-reason') reasons[headers[i + 1]] = (reasons[headers[i + 1]] ?? 0) + 1;
          if (name !== 'server-timing') continue;
          for (const m of String(headers[i + 1]).matchAll(/([\w-]+);dur=([\d.]+)/g)) (stages[m[1]] ??= []).push(Number(m[2]));
        }
      });
      client.on('response', (status, _bytes, ms) => {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status >= 200 && status < 300) latencies.push(ms);
      });
    },
  };
  const result = await autocannon(opts);
  return {
    latencies,
    stages,
    statuses,
    reasons,
    errors: result.errors + result.timeouts + result.non2xx,
    seconds: result.duration,
    rps: latencies.length / result.duration,
  };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}
