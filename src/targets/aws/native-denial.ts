/**
 * A denial in the format the refused request's own client parses, for every AWS protocol, so the
 * unmodified CLI and SDKs print the reason code and certificate id (SPEC §4, reference/aws.md §6).
 * Pure: (protocol, service, denial) in, status/headers/body out. Never a throttling code: clients
 * retry those.
 */
import { randomUUID } from 'node:crypto';
import table from './data/error-protocols.json' with { type: 'json' };
import type { Protocol } from './types.js';

export interface NativeDenial {
  readonly status: number;
  /** What the client prints: the reason code and certificate id (responses.ts denialMessage). */
  readonly message: string;
  readonly requestId?: string;
}

export interface RenderedDenial {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array;
}

/** Where the client reads the error from: the protocol it speaks and its signing name. */
export interface ErrorTarget {
  readonly protocol: Protocol;
  readonly service: string | null;
  /** The json protocol's `application/x-amz-json-1.x` the client sent, echoed back. */
  readonly jsonVersion?: '1.0' | '1.1';
}

const SIGNING: Readonly<Record<string, readonly string[]>> = table.signingNames;
const S3_STYLE: ReadonlySet<string> = new Set(table.s3Style);

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Which protocol the client speaks. Cosmetic only: it decides how a denial is worded, never what
 * is admitted, so it reads the request loosely (it must also work on unparseable requests). The
 * request's own markers first (each protocol's content type or header), then the signing name's
 * model (error-protocols.json), so an unread rest-json or rest-xml request is answered natively.
 */
export function errorTarget(headers: Headers, read?: { readonly protocol: Protocol; readonly service: string }): ErrorTarget {
  const auth = one(headers['authorization']);
  const signed = typeof auth === 'string' ? /Credential=[^/]*\/[^/]*\/[^/]*\/([^/]*)\//.exec(auth)?.[1] : undefined;
  const service = read?.service ?? signed ?? null;
  const contentType = one(headers['content-type']) ?? '';
  const jsonVersion = /x-amz-json-1\.0/.test(contentType) ? '1.0' : '1.1';
  if (read) return { protocol: read.protocol, service, jsonVersion };
  if (one(headers['smithy-protocol']) === 'rpc-v2-cbor' || contentType.includes('application/cbor')) return { protocol: 'smithy-rpc-v2-cbor', service };
  if (headers['x-amz-target'] !== undefined || contentType.includes('x-amz-json')) return { protocol: 'json', service, jsonVersion };
  if (contentType.includes('x-www-form-urlencoded')) return { protocol: service === 'ec2' ? 'ec2' : 'query', service };
  const modeled = service === null ? undefined : SIGNING[service];
  const rest = modeled?.find((p) => p === 'rest-json' || p === 'rest-xml');
  if (rest) return { protocol: rest, service };
  return { protocol: (modeled?.[0] as Protocol | undefined) ?? 'query', service };
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** XML 1.0 cannot carry most control characters at all, so they become `?` rather than break the parse. */
function xmlText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '?');
}

type Family = 'json' | 's3' | 'query';

function errorCode(status: number, family: Family): string {
  if (status === 401 || status === 403) return family === 'json' ? 'AccessDeniedException' : 'AccessDenied';
  if (status === 409) return family === 'json' ? 'ConflictException' : 'OperationAborted';
  if (status === 413) return family === 's3' ? 'EntityTooLarge' : 'RequestEntityTooLarge';
  if (status === 502 || status === 504 || status === 503) return 'ServiceUnavailable';
  return family === 'json' ? 'ValidationException' : 'InvalidRequest';
}

function family(target: ErrorTarget): Family {
  if (target.protocol === 'json' || target.protocol === 'rest-json' || target.protocol === 'smithy-rpc-v2-cbor') return 'json';
  if (target.protocol === 'rest-xml' && target.service !== null && S3_STYLE.has(target.service)) return 's3';
  return 'query';
}

export function renderDenial(target: ErrorTarget, denial: NativeDenial): RenderedDenial {
  const { status, message } = denial;
  const requestId = denial.requestId ?? randomUUID();
  const code = errorCode(status, family(target));
  switch (target.protocol) {
    case 'json':
    case 'rest-json': {
      const contentType = target.protocol === 'json' ? `application/x-amz-json-${target.jsonVersion ?? '1.1'}` : 'application/json';
      return { status, headers: { 'content-type': contentType, 'x-amzn-errortype': code, 'x-amzn-requestid': requestId }, body: JSON.stringify({ __type: code, message }) };
    }
    case 'smithy-rpc-v2-cbor':
      return { status, headers: { 'content-type': 'application/cbor', 'smithy-protocol': 'rpc-v2-cbor', 'x-amzn-requestid': requestId }, body: cborTextMap({ __type: code, message }) };
    default:
      break;
  }
  const text = xmlText(message);
  if (family(target) === 's3') {
    return {
      status,
      headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${text}</Message><RequestId>${requestId}</RequestId></Error>`,
    };
  }
  // query, ec2 (as before) and Route 53 / CloudFront style rest-xml: clients find the Error element under the root.
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>${type}</Type><Code>${code}</Code><Message>${text}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

/** The one call site's shape: the request as seen, what the broker read of it (if anything), the denial. */
export function renderNativeDenial(headers: Headers, read: { readonly protocol: Protocol; readonly service: string } | null | undefined, status: number, message: string): RenderedDenial {
  return renderDenial(errorTarget(headers, read ?? undefined), { status, message });
}

/** RFC 8949 head: major type and length (definite lengths only; an error body is tiny). */
function cborHead(major: number, length: number): number[] {
  if (length < 24) return [(major << 5) | length];
  if (length < 0x100) return [(major << 5) | 24, length];
  if (length < 0x10000) return [(major << 5) | 25, length >> 8, length & 0xff];
  return [(major << 5) | 26, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff];
}

function cborTextMap(map: Record<string, string>): Uint8Array {
  const out: number[] = cborHead(5, Object.keys(map).length);
  for (const [k, v] of Object.entries(map)) {
    for (const s of [k, v]) {
      const utf8 = Buffer.from(s, 'utf8');
      out.push(...cborHead(3, utf8.length), ...utf8);
    }
  }
  return Uint8Array.from(out);
}
