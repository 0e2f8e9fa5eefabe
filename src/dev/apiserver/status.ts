/**
 * Kubernetes Status error bodies (reference/k8s.md §7). kubectl prints `Error from server
 * (<reason>): <message>` from these, so every error the stand-in returns goes through here.
 */
export type StatusReason =
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'BadRequest'
  | 'MethodNotAllowed'
  | 'UnsupportedMediaType'
  | 'NotAcceptable'
  | 'InternalError';

const CODES: Record<StatusReason, number> = {
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  BadRequest: 400,
  MethodNotAllowed: 405,
  UnsupportedMediaType: 415,
  NotAcceptable: 406,
  InternalError: 500,
};

/** What a Status names: `details.kind` is the plural resource (`deployments`), `group` the API group. */
export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
}

export class StatusError extends Error {
  override readonly name = 'StatusError';
  readonly code: number;
  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details: StatusDetails = {},
  ) {
    super(message);
    this.code = CODES[reason];
  }

  toStatus(): Record<string, unknown> {
    const body: Record<string, unknown> = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
    };
    if (Object.keys(this.details).length > 0) body['details'] = this.details;
    body['code'] = this.code;
    return body;
  }
}

/** `deployments.apps` for a group, `pods` for the core group: how the apiserver names a resource. */
export function qualified(resource: string, group: string): string {
  return group === '' ? resource : `${resource}.${group}`;
}

export function notFound(resource: string, group: string, name: string): StatusError {
  return new StatusError('NotFound', `${qualified(resource, group)} "${name}" not found`, { name, group, kind: resource });
}

export function alreadyExists(resource: string, group: string, name: string): StatusError {
  return new StatusError('AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, { name, group, kind: resource });
}

/** The apiserver's optimistic-concurrency message, which clients match on to retry. */
export function conflict(resource: string, group: string, name: string, why: string): StatusError {
  return new StatusError(
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": ${why}`,
    { name, group, kind: resource },
  );
}

/** Authorizer denial text, as in apiserver `responsewriters.forbiddenMessage`: the subresource joins the resource. */
export function forbidden(user: string, verb: string, resource: string, group: string, name: string, namespace: string): StatusError {
  const base = resource.split('/')[0]!;
  const scope = namespace === '' ? 'at the cluster scope' : `in the namespace "${namespace}"`;
  const what = name === '' ? qualified(base, group) : `${qualified(base, group)} "${name}"`;
  return new StatusError('Forbidden', `${what} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" ${scope}`, {
    ...(name === '' ? {} : { name }),
    group,
    kind: base,
  });
}

export function badRequest(message: string): StatusError {
  return new StatusError('BadRequest', message);
}

/** The `Success` Status written on channel 3 at the end of an exec and returned by some deletes. */
export function successStatus(): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };
}
