/**
 * Denials in the AWS client's own error format, so the unmodified CLI and SDKs print the reason
 * code and certificate id (SPEC §4, reference/aws.md §6). Never a throttling code: clients retry those.
 */
import { randomUUID } from 'node:crypto';
import type { Protocol } from './types.js';

export type ErrorStyle = 'query' | 's3' | 'json';

export interface RenderedError {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Picks the format the client will parse. Cosmetic only: it decides how a denial is worded, never
 * what is admitted, so it may read the request loosely (it must also work on unparseable requests).
 */
export function errorStyle(headers: Readonly<Record<string, string | string[] | undefined>>, protocol?: Protocol): ErrorStyle {
  if (protocol) return protocol === 'rest-xml' ? 's3' : protocol === 'json' || protocol === 'rest-json' ? 'json' : 'query';
  if (headers['x-amz-target'] !== undefined) return 'json';
  const contentType = headers['content-type'];
  if (typeof contentType === 'string' && contentType.includes('x-amz-json')) return 'json';
  const auth = headers['authorization'];
  const service = typeof auth === 'string' ? /Credential=[^/]*\/[^/]*\/[^/]*\/([^/]*)\//.exec(auth)?.[1] : undefined;
  if (service === 's3') return 's3';
  if (service === 'lambda') return 'json';
  return 'query';
}

function errorCode(status: number, style: ErrorStyle): string {
  if (status === 401 || status === 403) return style === 'json' ? 'AccessDeniedException' : 'AccessDenied';
  if (status === 409) return style === 'json' ? 'ConflictException' : 'OperationAborted';
  if (status === 413) return style === 's3' ? 'EntityTooLarge' : 'RequestEntityTooLarge';
  if (status === 502 || status === 504 || status === 503) return 'ServiceUnavailable';
  return style === 's3' ? 'InvalidRequest' : style === 'json' ? 'ValidationException' : 'InvalidRequest';
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** XML 1.0 cannot carry most control characters at all, so they become `?` rather than break the parse. */
export function xmlText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '?');
}

export function renderAwsError(style: ErrorStyle, status: number, message: string, requestId = randomUUID()): RenderedError {
  const code = errorCode(status, style);
  if (style === 'json') {
    return {
      status,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': code, 'x-amzn-requestid': requestId },
      body: JSON.stringify({ __type: code, message }),
    };
  }
  const text = xmlText(message);
  if (style === 's3') {
    return {
      status,
      headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${text}</Message><RequestId>${requestId}</RequestId></Error>`,
    };
  }
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>${type}</Type><Code>${code}</Code><Message>${text}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}
