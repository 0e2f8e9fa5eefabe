import { randomUUID } from 'node:crypto';
import { request } from 'node:https';
import { isDeepStrictEqual } from 'node:util';
import type { UserInfo } from './auth.js';
import { jsonPatch } from './patch.js';
import { findResource } from './resources.js';
import { StatusError, type StatusReason } from './status.js';
import type { KubeObject, ObjectStore } from './store.js';

/**
 * Mutating admission webhooks for pod CREATE, run as the apiserver's MutatingAdmissionWebhook
 * plugin runs them (k8s.io/apiserver `admission/plugin/webhook/mutating`): the stored
 * MutatingWebhookConfigurations in name order, each webhook whose rules, objectSelector and
 * namespaceSelector match called with an AdmissionReview v1 over TLS verified against its
 * caBundle, its JSON Patch applied; `failurePolicy` decides whether a failed call refuses the
 * create; `reinvocationPolicy: IfNeeded` calls a webhook once more when a later one changed the
 * object. The stand-in resolves no Services: `services` maps `namespace/name:port` to a loopback
 * origin, and TLS is still verified for `<name>.<namespace>.svc` as the apiserver does.
 */
export type WebhookServices = Readonly<Record<string, string>>;

const DEFAULT_TIMEOUT_SECONDS = 10;
const MAX_RESPONSE_BYTES = 3 * 1024 * 1024;
const REVIEW_API_VERSION = 'admission.k8s.io/v1';

interface Webhook {
  /** The configuration's name and the webhook's index: what reinvocation tracks. */
  readonly id: string;
  readonly name: string;
  readonly spec: Record<string, unknown>;
}

/** A failed call: subject to failurePolicy (apiserver `ErrCallingWebhook`). A rejection is not. */
class CallFailed extends Error {}

/**
 * The pod body after mutating admission: `bytes` unchanged when no webhook applies or the body is
 * not a JSON object (the create handler then answers the 400), else the mutated object.
 */
export async function admitPodCreate(store: ObjectStore, namespace: string, bytes: Buffer, user: UserInfo, services: WebhookServices, dryRun: boolean): Promise<Buffer> {
  let obj: KubeObject;
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
    if (!isObject(parsed) || (parsed['metadata'] !== undefined && !isObject(parsed['metadata']))) return bytes;
    obj = { ...parsed, metadata: (parsed['metadata'] ?? {}) as Record<string, unknown> };
  } catch {
    return bytes;
  }
  // The create handler puts the request's namespace into the object before admission.
  if (obj.metadata['namespace'] === undefined) obj.metadata['namespace'] = namespace;
  const hooks = matchingWebhooks(store, obj, namespace);
  if (hooks.length === 0) return bytes;

  // First pass in order; a webhook that changes the object makes every IfNeeded webhook called
  // before it due for one more call (the apiserver's `webhookReinvokeContext`).
  let previous = new Set<string>();
  const again = new Set<string>();
  for (const hook of hooks) {
    const changed = await callAndApply(hook, obj, namespace, user, services, dryRun);
    if (changed !== undefined) {
      obj = changed;
      for (const id of previous) again.add(id);
      previous = new Set();
    }
    if (hook.spec['reinvocationPolicy'] === 'IfNeeded') previous.add(hook.id);
  }
  for (const hook of hooks) {
    if (!again.has(hook.id)) continue;
    obj = (await callAndApply(hook, obj, namespace, user, services, dryRun)) ?? obj;
  }
  return Buffer.from(JSON.stringify(obj));
}

function matchingWebhooks(store: ObjectStore, obj: KubeObject, namespace: string): Webhook[] {
  const configs = store.list(findResource('admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations')!, '');
  const ns = store.get(findResource('', 'v1', 'namespaces')!, '', namespace);
  // The apiserver labels every namespace with its own name (NamespaceDefaultLabelName).
  const nsLabels = { ...labelsOf(ns?.metadata), 'kubernetes.io/metadata.name': namespace };
  const objLabels = labelsOf(obj.metadata);
  const out: Webhook[] = [];
  for (const config of configs) {
    const webhooks = Array.isArray(config['webhooks']) ? (config['webhooks'] as unknown[]) : [];
    webhooks.forEach((spec, i) => {
      if (!isObject(spec)) return;
      const name = String(spec['name'] ?? '');
      const rules = Array.isArray(spec['rules']) ? spec['rules'] : [];
      if (!rules.some(matchesPodCreate)) return;
      if (!selects(spec['objectSelector'], objLabels, name) || !selects(spec['namespaceSelector'], nsLabels, name)) return;
      out.push({ id: `${String(config.metadata['name'])}/${i}`, name, spec });
    });
  }
  return out;
}

function matchesPodCreate(rule: unknown): boolean {
  if (!isObject(rule)) return false;
  const has = (field: string, ...values: string[]) => Array.isArray(rule[field]) && (rule[field] as unknown[]).some((v) => values.includes(String(v)));
  const scope = rule['scope'] ?? '*';
  return has('operations', 'CREATE', '*') && has('apiGroups', '', '*') && has('apiVersions', 'v1', '*') && has('resources', 'pods', '*', '*/*') && (scope === '*' || scope === 'Namespaced');
}

/** A LabelSelector: absent or empty selects everything; matchLabels and matchExpressions all hold. */
function selects(selector: unknown, labels: Record<string, string>, webhook: string): boolean {
  if (selector === undefined || selector === null) return true;
  if (!isObject(selector)) throw invalidSelector(webhook);
  const matchLabels = selector['matchLabels'] ?? {};
  if (!isObject(matchLabels)) throw invalidSelector(webhook);
  for (const [k, v] of Object.entries(matchLabels)) if (labels[k] !== v) return false;
  const expressions = selector['matchExpressions'] ?? [];
  if (!Array.isArray(expressions)) throw invalidSelector(webhook);
  for (const e of expressions as unknown[]) {
    if (!isObject(e) || typeof e['key'] !== 'string') throw invalidSelector(webhook);
    const has = Object.hasOwn(labels, e['key']);
    const values = Array.isArray(e['values']) ? (e['values'] as unknown[]).map(String) : [];
    const value = labels[e['key']] ?? '';
    switch (e['operator']) {
      case 'In': if (!has || !values.includes(value)) return false; break;
      case 'NotIn': if (has && values.includes(value)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: throw invalidSelector(webhook);
    }
  }
  return true;
}

function invalidSelector(webhook: string): StatusError {
  return new StatusError('InternalError', `Internal error occurred: webhook "${webhook}" has an invalid label selector`);
}

/** Calls one webhook; the patched object when it changed, undefined when not (or ignored on failure). */
async function callAndApply(hook: Webhook, obj: KubeObject, namespace: string, user: UserInfo, services: WebhookServices, dryRun: boolean): Promise<KubeObject | undefined> {
  const sideEffects = hook.spec['sideEffects'];
  if (dryRun && sideEffects !== 'None' && sideEffects !== 'NoneOnDryRun') {
    throw new StatusError('BadRequest', `admission webhook "${hook.name}" does not support dry run`);
  }
  let response: Record<string, unknown>;
  try {
    response = await call(hook, obj, namespace, user, services, dryRun);
  } catch (err) {
    if (!(err instanceof CallFailed)) throw err;
    if (hook.spec['failurePolicy'] === 'Ignore') return undefined;
    throw new StatusError('InternalError', `Internal error occurred: failed calling webhook "${hook.name}": ${err.message}`);
  }
  if (response['allowed'] !== true) throw rejection(hook.name, response['status']);
  if (response['patch'] === undefined) return undefined;
  if (response['patchType'] !== 'JSONPatch') throw new StatusError('InternalError', `Internal error occurred: webhook "${hook.name}" sent a patch of type ${JSON.stringify(response['patchType'])}`);
  let patched: unknown;
  try {
    patched = jsonPatch(obj, JSON.parse(Buffer.from(String(response['patch']), 'base64').toString('utf8')));
  } catch (err) {
    throw new StatusError('InternalError', `Internal error occurred: the patch of webhook "${hook.name}" does not apply: ${(err as Error).message}`);
  }
  if (!isObject(patched) || !isObject(patched['metadata'])) throw new StatusError('InternalError', `Internal error occurred: webhook "${hook.name}" patched the object into a non-object`);
  return isDeepStrictEqual(patched, obj) ? undefined : (patched as KubeObject);
}

/** `admission webhook "X" denied the request: <message>`, as apiserver `webhookerrors.ToStatusErr`. */
function rejection(webhook: string, status: unknown): StatusError {
  const s = isObject(status) ? status : {};
  const message = typeof s['message'] === 'string' && s['message'] !== '' ? s['message'] : typeof s['reason'] === 'string' && s['reason'] !== '' ? s['reason'] : '';
  const text = `admission webhook "${webhook}" denied the request${message === '' ? ' without explanation' : `: ${message}`}`;
  return new StatusError(reasonFor(typeof s['code'] === 'number' ? s['code'] : 0), text);
}

const REASON_BY_CODE: Readonly<Record<number, StatusReason>> = { 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 422: 'Invalid', 401: 'Unauthorized' };

/** The stand-in's statuses come from reasons; a webhook's code outside them reads as 400, like a code under 400. */
function reasonFor(code: number): StatusReason {
  return REASON_BY_CODE[code] ?? 'BadRequest';
}

async function call(hook: Webhook, obj: KubeObject, namespace: string, user: UserInfo, services: WebhookServices, dryRun: boolean): Promise<Record<string, unknown>> {
  const versions = hook.spec['admissionReviewVersions'];
  if (!Array.isArray(versions) || !versions.includes('v1')) throw new CallFailed('the webhook accepts no AdmissionReview version the stand-in sends (v1)');
  const timeoutSeconds = typeof hook.spec['timeoutSeconds'] === 'number' ? hook.spec['timeoutSeconds'] : DEFAULT_TIMEOUT_SECONDS;
  const target = endpoint(hook, services);
  target.url.searchParams.set('timeout', `${timeoutSeconds}s`);
  const uid = randomUUID();
  const review = {
    apiVersion: REVIEW_API_VERSION,
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: String(obj.metadata['name'] ?? ''),
      namespace,
      operation: 'CREATE',
      userInfo: { username: user.name, groups: [...user.groups] },
      object: obj,
      oldObject: null,
      dryRun,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
  const where = `Post "${target.display}?timeout=${timeoutSeconds}s"`;
  let body: Buffer;
  try {
    body = await post(target, Buffer.from(JSON.stringify(review)), timeoutSeconds * 1000);
  } catch (err) {
    throw new CallFailed(`failed to call webhook: ${where}: ${(err as Error).message}`);
  }
  let answer: unknown;
  try {
    answer = JSON.parse(body.toString('utf8'));
  } catch {
    throw new CallFailed('the webhook answered something that is not JSON');
  }
  if (!isObject(answer) || answer['apiVersion'] !== REVIEW_API_VERSION || answer['kind'] !== 'AdmissionReview' || !isObject(answer['response'])) {
    throw new CallFailed(`the webhook answered no AdmissionReview ${REVIEW_API_VERSION} response`);
  }
  if (answer['response']['uid'] !== uid) throw new CallFailed(`expected response.uid="${uid}", got "${String(answer['response']['uid'])}"`);
  return answer['response'];
}

interface Endpoint {
  readonly url: URL;
  /** What the apiserver would show in an error: the Service's DNS name, not the loopback port. */
  readonly display: string;
  readonly servername: string;
  readonly ca: Buffer | undefined;
}

function endpoint(hook: Webhook, services: WebhookServices): Endpoint {
  const cc = isObject(hook.spec['clientConfig']) ? hook.spec['clientConfig'] : {};
  const ca = typeof cc['caBundle'] === 'string' && cc['caBundle'] !== '' ? Buffer.from(cc['caBundle'], 'base64') : undefined;
  if (typeof cc['url'] === 'string') {
    const url = new URL(cc['url']);
    return { url, display: `${url.origin}${url.pathname}`, servername: url.hostname, ca };
  }
  const svc = isObject(cc['service']) ? cc['service'] : undefined;
  if (svc === undefined) throw new CallFailed('the webhook has neither clientConfig.url nor clientConfig.service');
  const port = typeof svc['port'] === 'number' ? svc['port'] : 443;
  const host = `${String(svc['name'])}.${String(svc['namespace'])}.svc`;
  const path = typeof svc['path'] === 'string' ? svc['path'] : '/';
  const origin = services[`${String(svc['namespace'])}/${String(svc['name'])}:${port}`];
  if (origin === undefined) throw new CallFailed(`failed to call webhook: service "${String(svc['namespace'])}/${String(svc['name'])}:${port}" has no endpoints`);
  return { url: new URL(path, origin), display: `https://${host}:${port}${path}`, servername: host, ca };
}

function post(target: Endpoint, body: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(
      target.url,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': body.length },
        servername: target.servername,
        ...(target.ca !== undefined ? { ca: target.ca } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('the response is too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`the server answered ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').trim().slice(0, 200)}`));
          else resolve(Buffer.concat(chunks));
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err) => reject(err.name === 'TimeoutError' || err.name === 'AbortError' ? new Error('context deadline exceeded') : err));
    req.end(body);
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function labelsOf(meta: Record<string, unknown> | undefined): Record<string, string> {
  const labels = meta?.['labels'];
  return isObject(labels) ? (labels as Record<string, string>) : {};
}
