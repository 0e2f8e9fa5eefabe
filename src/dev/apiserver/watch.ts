import type { IncomingMessage, ServerResponse } from 'node:http';
import { groupVersion } from './resources.js';
import type { ResourceRoute } from './handlers.js';
import { matchesFields, matchesLabels } from './route.js';
import { badRequest } from './status.js';
import { includeObjectOf, toTable } from './table.js';
import type { KubeObject, ObjectStore, StoreEvent } from './store.js';

/** How often a watch that allows bookmarks gets one (a real apiserver sends them about once a minute). */
export const BOOKMARK_INTERVAL_MS = 5_000;

/**
 * `watch=true` (reference/k8s.md §6, §8 item 6): newline-delimited `{"type","object"}` events,
 * chunked and flushed one by one. With no resourceVersion (or "0") the current objects come first as
 * ADDED, as the apiserver's synthetic initial events do; with a resourceVersion every later change
 * is replayed from history. List, replay and subscription happen in one tick, so nothing is missed
 * or seen twice. The watch ends after `timeoutSeconds` or when the client goes.
 */
export function serveWatch(req: IncomingMessage, res: ServerResponse, store: ObjectStore, r: ResourceRoute, table: boolean): void {
  const rvParam = r.query.get('resourceVersion') ?? '';
  if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw badRequest(`invalid resource version: ${rvParam}`);
  const timeout = Number(r.query.get('timeoutSeconds') ?? '0');
  const labels = r.query.get('labelSelector') ?? '';
  const fields = r.query.get('fieldSelector') ?? '';
  const matches = (e: Pick<StoreEvent, 'def' | 'namespace' | 'object'>) =>
    e.def === r.def &&
    (r.namespace === '' || e.namespace === r.namespace) &&
    matchesLabels((e.object.metadata['labels'] ?? {}) as Record<string, string>, labels) &&
    matchesFields(e.object, fields);

  // Parameters are checked before the 200 goes out: after it an error can only be an ERROR event.
  const includeObject = includeObjectOf(r.query);
  matchesFields({ metadata: {} }, fields);

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  // A Table watch carries each object as a one-row Table, as the apiserver's watch encoder does.
  const asTable = (o: KubeObject) => (table ? toTable(r.def, [o], { resourceVersion: o.metadata['resourceVersion'] }, includeObject, new Date()) : o);
  const send = (type: string, object: KubeObject) => res.write(`${JSON.stringify({ type, object: type === 'BOOKMARK' ? object : asTable(object) })}\n`);

  if (rvParam === '' || rvParam === '0') {
    for (const object of store.list(r.def, r.namespace)) if (matches({ def: r.def, namespace: r.namespace, object })) send('ADDED', object);
  } else {
    const since = Number(rvParam);
    for (const e of store.history) if (e.rv > since && matches(e)) send(e.type, e.object);
  }
  const unsubscribe = store.subscribe((e) => {
    if (matches(e)) send(e.type, e.object);
  });
  const bookmark = () => send('BOOKMARK', { kind: r.def.kind, apiVersion: groupVersion(r.def), metadata: { resourceVersion: store.resourceVersion } });
  let bookmarks: NodeJS.Timeout | undefined;
  if (r.query.get('allowWatchBookmarks') === 'true') {
    bookmark();
    bookmarks = setInterval(bookmark, BOOKMARK_INTERVAL_MS);
  }
  const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
  const stop = () => {
    unsubscribe();
    clearInterval(bookmarks);
    clearTimeout(timer);
  };
  res.on('close', stop);
  req.on('close', stop);
}
