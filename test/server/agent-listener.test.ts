// The agent listener's head deadlines (src/server/agent-listener.ts) with short deadlines passed in:
// a prompt request is answered, a head that never completes is cut at its deadline, and a
// connection that never sends a byte is closed. Asserts the order of events, not their durations;
// the real 10 s deadline against the broker is in test/faults/hostile-clients.test.ts (e2e suite).
import t from 'tap';
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { agentServerOptions, limitListener } from '../../src/server/agent-listener.js';

const DEADLINES = { headersTimeoutMs: 300, checkIntervalMs: 50 };

t.test('a prompt request is answered; a partial head is cut; a silent connection is closed', async (t) => {
  const events: string[] = [];
  const server = createServer(agentServerOptions(30, DEADLINES), (_req, res) => {
    events.push('answered');
    res.end('ok');
  });
  limitListener(server, DEADLINES.headersTimeoutMs);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as AddressInfo).port;
  const open = (name: string, bytes: string) =>
    new Promise<string>((resolve) => {
      let got = '';
      const socket: Socket = connect(port, '127.0.0.1', () => socket.write(bytes));
      socket.on('data', (c: Buffer) => (got += c.toString()));
      socket.on('error', () => {});
      socket.on('close', () => {
        events.push(`${name} closed`);
        resolve(got);
      });
    });
  const partial = open('partial head', 'GET / HTTP/1.1\r\nhost: x\r\n');
  const silent = open('silent', '');
  const prompt = open('prompt', 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  t.match(await prompt, /^HTTP\/1\.1 200/, 'the prompt request is answered');
  t.match(await partial, /^(?:HTTP\/1\.1 408[^]*)?$/, 'the partial head is cut at its deadline (a 408 or a close), never answered');
  await silent;
  t.equal(events[0], 'answered', 'the prompt request is answered first');
  t.same(events.slice(1).sort(), ['partial head closed', 'prompt closed', 'silent closed']);
  t.ok(events.indexOf('prompt closed') < events.indexOf('partial head closed'), 'the prompt client is done before any deadline');
  t.ok(events.indexOf('prompt closed') < events.indexOf('silent closed'));
});

t.test('the defaults are the 10 s head deadline checked every second', async (t) => {
  const o = agentServerOptions(30);
  t.equal(o.headersTimeout, 10_000);
  t.equal(o.connectionsCheckingInterval, 1_000);
  t.equal(o.requestTimeout, 30_000 + 10_000 + 1_000, 'the request backstop never fires before the handlers\' own deadline');
});
