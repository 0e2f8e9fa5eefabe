/**
 * The AdmissionReview admission.k8s.io/v1 codec of `seb inject`: reads a review, answers it with
 * the same uid and either a base64 JSON Patch or a denial Status. A review that is not a v1 pod
 * CREATE is malformed (the webhook configuration sends nothing else); the server answers it with a
 * 400, which the apiserver treats as a failed call, so under failurePolicy Fail the pod is refused.
 */
import { injectPod, type InjectAction } from './inject.js';
import { isObject, MalformedInput } from './pod.js';
import type { InjectOptions } from './settings.js';

export const REVIEW_API_VERSION = 'admission.k8s.io/v1';

export type ReviewAnswer =
  | { readonly status: 200; readonly body: Record<string, unknown>; readonly summary: string }
  | { readonly status: 400; readonly error: string };

export function reviewResponse(review: unknown, options: InjectOptions): ReviewAnswer {
  try {
    return answer(review, options);
  } catch (err) {
    if (err instanceof MalformedInput) return { status: 400, error: err.message };
    throw err;
  }
}

function answer(review: unknown, options: InjectOptions): ReviewAnswer {
  if (!isObject(review) || review['apiVersion'] !== REVIEW_API_VERSION || review['kind'] !== 'AdmissionReview') {
    throw new MalformedInput(`not an AdmissionReview ${REVIEW_API_VERSION}`);
  }
  const request = review['request'];
  if (!isObject(request)) throw new MalformedInput('request must be an object');
  const uid = request['uid'];
  if (typeof uid !== 'string' || uid === '') throw new MalformedInput('request.uid must be a non-empty string');
  const kind = request['kind'];
  if (!isObject(kind) || kind['group'] !== '' || kind['version'] !== 'v1' || kind['kind'] !== 'Pod') throw new MalformedInput('request.kind must be core/v1 Pod');
  if ((request['subResource'] ?? '') !== '') throw new MalformedInput('request.subResource must be empty: only pods themselves are injected');
  if (request['operation'] !== 'CREATE') throw new MalformedInput('request.operation must be CREATE');

  const where = podName(request);
  const result = injectPod(request['object'], options);
  const response = (fields: Record<string, unknown>) => ({ apiVersion: REVIEW_API_VERSION, kind: 'AdmissionReview', response: { uid, ...fields } });
  if ('denied' in result) {
    return {
      status: 200,
      body: response({ allowed: false, status: { code: 403, reason: 'Forbidden', message: `seb sidecar injection: ${result.denied}` } }),
      summary: `${where}: denied: ${result.denied}`,
    };
  }
  const summary = `${where}: ${SUMMARY[result.action]}${result.patch.length > 0 ? ` (${result.patch.length} patch ops)` : ''}`;
  if (result.patch.length === 0) return { status: 200, body: response({ allowed: true }), summary };
  const patch = Buffer.from(JSON.stringify(result.patch)).toString('base64');
  return { status: 200, body: response({ allowed: true, patchType: 'JSONPatch', patch }), summary };
}

const SUMMARY: Record<InjectAction, string> = {
  inject: 'injected',
  reinvoke: 'already injected, hardening re-applied',
  skip: 'not opted in (no seb.dev/inject=true label), left alone',
};

/** `namespace/name`, or `namespace/generateName*` for a pod a controller creates. */
function podName(request: Record<string, unknown>): string {
  const object = isObject(request['object']) ? request['object'] : {};
  const meta = isObject(object['metadata']) ? object['metadata'] : {};
  const namespace = typeof request['namespace'] === 'string' ? request['namespace'] : '';
  const name = typeof request['name'] === 'string' && request['name'] !== '' ? request['name'] : typeof meta['name'] === 'string' && meta['name'] !== '' ? meta['name'] : `${String(meta['generateName'] ?? '')}*`;
  return `${printable(namespace)}/${printable(name)}`;
}

/** Names are not validated before mutating admission: a newline in one must not forge a log line. */
function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}
