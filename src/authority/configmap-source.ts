/**
 * Authority state from a ConfigMap key (SPEC §6 "Sources"), read with the broker's own Kubernetes
 * credentials (config `kube`), never the agent's. The usual list-then-watch: list the one ConfigMap
 * (a `metadata.name` field selector), offer its key, then watch from the list's resourceVersion.
 * A watch that ends is resumed from the last resourceVersion seen (bookmarks keep it recent); 410
 * Gone means that version was compacted away, so the ConfigMap is listed again. Failures are
 * reported and retried with backoff; the current state stays in force until it goes stale.
 *
 * RBAC: get, list and watch on configmaps in that namespace; `resourceNames: [NAME]` suffices,
 * because the apiserver authorizes a list or watch with a `metadata.name` selector as that name.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KubeConfig as KubeSection } from '../config/types.js';
import { after, SYSTEM_CLOCK, type Clock } from '../lib/clock.js';
import { Backoff } from './backoff.js';
import type { AuthoritySource, Problem, StateSink } from './source-types.js';
import { loadKubeConfig } from '../config/kubeconfig.js';

/** Asked of the apiserver; it closes the watch then and the broker resumes from the last resourceVersion. */
const WATCH_SECONDS = 300;
/** A watch still open this long after WATCH_SECONDS is on a dead connection: it is dropped and resumed. */
const WATCH_GRACE_MS = 30_000;
/** A watch that ends sooner than this is retried after a backoff, so a server that closes at once is not hammered. */
const MIN_WATCH_MS = 1000;
export const LIST_TIMEOUT_MS = 30_000;
/** Start-up waits this long for the first state, so the broker is ready at once when the apiserver is up. */
export const FIRST_STATE_MS = 5000;

export interface ConfigMapRef {
  readonly namespace: string;
  readonly name: string;
  readonly key: string;
}

export interface ConfigMapSourceOptions {
  /** Times the list and watch bounds, the backoff and the start-up wait; tests pass a manual clock. */
  readonly clock?: Clock;
}

export async function watchAuthorityConfigMap(
  kube: KubeSection,
  ref: ConfigMapRef,
  sink: StateSink,
  problem: Problem,
  options: ConfigMapSourceOptions = {},
): Promise<AuthoritySource> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const kc = await loadKubeConfig(kube);
  const { CoreV1Api, Watch } = await import('@kubernetes/client-node');
  const core = kc.makeApiClient(CoreV1Api);
  const watcher = new Watch(kc);
  const where = `authority configmap ${ref.namespace}/${ref.name} key ${ref.key}`;
  const path = `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/configmaps`;
  const fieldSelector = `metadata.name=${ref.name}`;
  const backoff = new Backoff();
  const stop = new AbortController();
  let resourceVersion = '';
  /** The open watch, aborted by close(). */
  let watching: AbortController | null = null;
  let lastText: string | null = null;
  let settle!: () => void;
  const firstSettled = new Promise<void>((resolve) => (settle = resolve));

  async function offer(cm: V1ConfigMap | undefined): Promise<void> {
    const text = cm?.data?.[ref.key]?.trim();
    if (text === undefined) {
      problem(`${where}: ${cm === undefined ? 'no such ConfigMap' : 'the ConfigMap has no such key'}`);
    } else if (text !== lastText) {
      lastText = text;
      await sink.offer(text);
    }
  }

  async function list(): Promise<void> {
    let cancel = (): void => {};
    const timeout = new Promise<never>((_, reject) => {
      cancel = after(clock, LIST_TIMEOUT_MS, () => reject(new Error(`list took over ${LIST_TIMEOUT_MS} ms`)));
    });
    try {
      const answer = await Promise.race([core.listNamespacedConfigMap({ namespace: ref.namespace, fieldSelector }), timeout]);
      resourceVersion = answer.metadata?.resourceVersion ?? '';
      await offer(answer.items[0]);
    } finally {
      cancel();
    }
  }

  /** One watch, to its end: 'gone' when the resourceVersion is too old (list again), else 'ended'. */
  function watchOnce(): Promise<'gone' | 'ended'> {
    return new Promise((resolve, reject) => {
      let gone = false;
      let stalled = false;
      // Offers run one at a time, in event order.
      let queue = Promise.resolve();
      const cancelWatchdog = after(clock, WATCH_SECONDS * 1000 + WATCH_GRACE_MS, () => {
        stalled = true;
        watching?.abort();
      });
      const onEvent = (type: string, object: { code?: number; message?: string; metadata?: { resourceVersion?: string } } | undefined) => {
        if (type === 'ERROR') {
          if (object?.code !== 410) problem(`${where}: watch error ${object?.code ?? ''} ${object?.message ?? ''}`);
          gone = object?.code === 410;
          // The apiserver ends the watch after an ERROR event; do not count on it.
          watching?.abort();
          return;
        }
        const rv = object?.metadata?.resourceVersion;
        if (typeof rv === 'string' && rv !== '') resourceVersion = rv;
        if (type === 'ADDED' || type === 'MODIFIED') queue = queue.then(() => offer(object as V1ConfigMap));
        else if (type === 'DELETED') problem(`${where}: the ConfigMap was deleted; the current state stays until it is stale`);
      };
      const onDone = (err: unknown) => {
        cancelWatchdog();
        watching = null;
        void queue.then(() => {
          if (gone || statusOf(err) === 410) resolve('gone');
          else if (stop.signal.aborted || stalled || err === null || err === undefined) resolve('ended');
          else reject(err instanceof Error ? err : new Error(String(err)));
        });
      };
      watcher
        .watch(path, { fieldSelector, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS }, onEvent, onDone)
        .then((controller) => {
          // done may already have run (a refused watch); then there is nothing left to abort.
          if (stop.signal.aborted) controller.abort();
          else if (!controller.signal.aborted) watching = controller;
        }, onDone);
    });
  }

  void (async () => {
    let listed = false;
    while (!stop.signal.aborted) {
      const started = clock.now();
      try {
        if (!listed) {
          await list();
          listed = true;
          settle();
        }
        if ((await watchOnce()) === 'gone') listed = false;
        if (clock.now() - started >= MIN_WATCH_MS) backoff.reset();
        else await clock.sleep(backoff.next(), stop.signal);
      } catch (err) {
        if (stop.signal.aborted) break;
        problem(`${where}: ${describe(err)}`);
        settle();
        await clock.sleep(backoff.next(), stop.signal);
      }
    }
  })();

  await Promise.race([firstSettled, clock.sleep(FIRST_STATE_MS, stop.signal)]);
  return {
    async close() {
      stop.abort();
      watching?.abort();
    },
  };
}

/** The HTTP status of a failed list (ApiException `code`) or watch (`statusCode`). */
function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return typeof e?.code === 'number' ? e.code : undefined;
}

/** ApiException messages carry the whole response (headers and body); the status says enough. */
function describe(err: unknown): string {
  const status = statusOf(err);
  return status !== undefined ? `HTTP ${status}` : err instanceof Error ? err.message : String(err);
}
