// The fast upstream every path of the benchmark shares: answers like S3 (PUT/GET an object), like
// the apiserver (PATCH a deployment) and like STS (AssumeRole, after SEB_BENCH_STS_DELAY_MS), at
// once and without checking anything (a watch streams for a second), so that the upstream is never the bottleneck.
// Runs as its own process (node bench/lib/upstream.mjs); prints {"http":P,"https":P,"sts":P}.
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

const stsDelay = Number(process.env.SEB_BENCH_STS_DELAY_MS ?? 20);
/** Idle keep-alive the upstream announces (`Keep-Alive: timeout=`); the soak shortens it to see the broker's pool close. */
const keepAliveMs = Number(process.env.SEB_BENCH_UPSTREAM_KEEPALIVE_MS ?? 60_000);
const tls = JSON.parse(process.env.SEB_BENCH_TLS ?? 'null');

const OBJECT = Buffer.alloc(1024, 'o');
const DEPLOYMENT = Buffer.from(
  JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', resourceVersion: '1' }, spec: { replicas: 3 } }),
);

/** A watch: an event every 100 ms for WATCH_MS, then the end of the stream (the soak's streaming kind). */
const WATCH_MS = 1_000;
function watch(res) {
  res.writeHead(200, { 'content-type': 'application/json' });
  const event = `${JSON.stringify({ type: 'MODIFIED', object: JSON.parse(DEPLOYMENT) })}\n`;
  const tick = setInterval(() => res.write(event), 100);
  setTimeout(() => {
    clearInterval(tick);
    res.end();
  }, WATCH_MS);
  res.on('close', () => clearInterval(tick));
}

function answer(req, res) {
  req.resume();
  req.on('end', () => {
    if (req.method === 'GET' && req.url.includes('watch=true')) return watch(res);
    if (req.method === 'PATCH') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': DEPLOYMENT.length });
      return res.end(DEPLOYMENT);
    }
    if (req.method === 'GET') {
      res.writeHead(200, { etag: '"o"', 'content-type': 'application/octet-stream', 'content-length': OBJECT.length, 'x-amz-request-id': 'r' });
      return res.end(OBJECT);
    }
    res.writeHead(200, { etag: '"o"', 'x-amz-request-id': 'r', 'content-length': 0 });
    res.end();
  });
}

let minted = 0;
function assumeRole(req, res) {
  req.resume();
  req.on('end', () =>
    setTimeout(() => {
      const expiration = new Date(Date.now() + 3600_000).toISOString();
      minted += 1;
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIABENCH${minted}</AccessKeyId><SecretAccessKey>s</SecretAccessKey>` +
          `<SessionToken>t</SessionToken><Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser>` +
          `<Arn>arn:aws:sts::123456789012:assumed-role/w/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`,
      );
    }, stsDelay),
  );
}

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const servers = [createServer({ keepAliveTimeout: keepAliveMs }, answer), createServer(assumeRole)];
if (tls) servers.push(createHttpsServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: keepAliveMs }, answer));
const [http, sts, https] = await Promise.all(servers.map(listen));
process.stdout.write(`${JSON.stringify({ http, sts, https: https ?? null })}\n`);
process.on('SIGTERM', () => process.exit(0));
