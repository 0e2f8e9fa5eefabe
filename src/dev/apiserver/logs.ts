import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceRoute } from './handlers.js';
import { badRequest } from './status.js';
import type { ObjectStore } from './store.js';

/** How often a followed log gets a new line. */
export const LOG_LINE_INTERVAL_MS = 1_000;
/** Lines a container has "already written" when the log is read. */
const BACKLOG = 3;

/**
 * `pods/<name>/log` (reference/k8s.md §8 item 7): plain text, chunked. The container's output is
 * synthetic: numbered lines naming the pod and container, so a test can tell whose log it read.
 * With `follow=true` one more line arrives every LOG_LINE_INTERVAL_MS until the client leaves.
 */
export function serveLogs(req: IncomingMessage, res: ServerResponse, store: ObjectStore, r: ResourceRoute): void {
  const pod = store.mustGet(r.def, r.namespace, r.name);
  const names = ((((pod['spec'] ?? {}) as Record<string, unknown>)['containers'] ?? []) as { name?: string }[]).map((c) => String(c.name));
  let container = r.query.get('container') ?? '';
  if (container === '') {
    if (names.length !== 1) throw badRequest(`a container name must be specified for pod ${r.name}, choose one of: [${names.join(' ')}]`);
    container = names[0]!;
  } else if (!names.includes(container)) {
    throw badRequest(`container ${container} is not valid for pod ${r.name}`);
  }
  const tail = r.query.get('tailLines');
  const timestamps = r.query.get('timestamps') === 'true';
  const line = (n: number) => `${timestamps ? `${new Date().toISOString()} ` : ''}log line ${n} from ${r.namespace}/${r.name}/${container}\n`;

  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  const first = tail === null ? 1 : Math.max(1, BACKLOG - Number(tail) + 1);
  for (let n = first; n <= BACKLOG; n++) res.write(line(n));
  if (r.query.get('follow') !== 'true') {
    res.end();
    return;
  }
  let n = BACKLOG;
  const timer = setInterval(() => res.write(line(++n)), LOG_LINE_INTERVAL_MS);
  const stop = () => clearInterval(timer);
  res.on('close', stop);
  req.on('close', stop);
}
