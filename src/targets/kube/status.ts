/**
 * Denials as Kubernetes `Status` objects (SPEC §4, reference/k8s.md §7), which kubectl prints as
 * `Error from server (Forbidden): <message>`. kubectl hides the message of a 401 ("You must be
 * logged in to the server"), so certificate failures that are 401 elsewhere answer 403 here.
 */

export interface KubeStatusBody {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure';
  readonly message: string;
  readonly reason: string;
  readonly details?: { readonly name?: string; readonly group?: string; readonly kind?: string };
  readonly code: number;
}

/** The Status `reason` kubectl shows for each status the broker answers with. */
const STATUS_REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  403: 'Forbidden',
  // The apiserver's StatusReasonTimeout (a body that did not arrive within limits.request_timeout).
  408: 'Timeout',
  409: 'Conflict',
  413: 'RequestEntityTooLarge',
  431: 'BadRequest',
  500: 'InternalError',
  502: 'ServiceUnavailable',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The HTTP status of a denial on the Kubernetes path: 401 becomes 403 so kubectl shows the reason. */
export function kubeStatusCode(status: number): number {
  return status === 401 ? 403 : status;
}

export function kubeStatus(
  status: number,
  message: string,
  details?: { name?: string; group?: string; kind?: string },
): { status: number; body: KubeStatusBody } {
  const code = kubeStatusCode(status);
  return {
    status: code,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason: STATUS_REASONS[code] ?? 'Unknown',
      ...(details ? { details } : {}),
      code,
    },
  };
}

/** A Status as one event of a watch stream (reference/k8s.md §7): `{"type":"ERROR","object":...}`. */
export function watchErrorEvent(status: number, message: string): string {
  return `${JSON.stringify({ type: 'ERROR', object: kubeStatus(status, message).body })}\n`;
}
