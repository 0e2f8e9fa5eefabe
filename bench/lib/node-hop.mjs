// The floor for any Node proxy: a keep-alive forwarding hop with undici that reads nothing and
// decides nothing. Runs as its own process; SEB_BENCH_TARGET is the upstream origin; prints {"port":P}.
import { createServer } from 'node:http';
import { Agent, request } from 'undici';

const target = process.env.SEB_BENCH_TARGET;
const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 128 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

const server = createServer({ keepAliveTimeout: 60_000 }, async (req, res) => {
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) if (!HOP.has(name)) headers[name] = value;
  try {
    const up = await request(`${target}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? null : req, dispatcher });
    const out = {};
    for (const [name, value] of Object.entries(up.headers)) if (!HOP.has(name)) out[name] = value;
    res.writeHead(up.statusCode, out);
    for await (const chunk of up.body) res.write(chunk);
    res.end();
  } catch (err) {
    res.writeHead(502).end(String(err));
  }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on('SIGTERM', () => process.exit(0));
