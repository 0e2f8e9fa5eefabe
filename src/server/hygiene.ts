/**
 * HTTP hygiene (SPEC §3): turns the raw Node request into the one reading every later stage uses,
 * refusing what an upstream could read another way. Pure apart from reading `req`'s head.
 */
import type { IncomingMessage } from 'node:http';
import { Denial, unparseable } from '../reasons.js';
import type { RequestHead } from '../targets/target.js';

/** Never forwarded and never part of a request's meaning: hop-by-hop and proxy-chain headers. */
const DROPPED = new Set(['te', 'trailer', 'upgrade', 'forwarded', 'via', 'proxy-authorization', 'proxy-connection']);
const DROPPED_PREFIXES = ['x-forwarded-', 'x-remote-', 'proxy-'];
const BROKER_CARRIER = 'x-seb-certificate';
/**
 * List-valued headers clients legitimately repeat (kubectl's SPDY exec sends one
 * X-Stream-Protocol-Version per protocol). Every other repeated header is ambiguous and refused.
 */
const LIST_HEADERS = new Set(['x-stream-protocol-version', 'sec-websocket-protocol', 'sec-websocket-extensions', 'accept', 'accept-encoding']);
/**
 * Header fields in one request head. The AWS SDKs and kubectl send a few dozen at most; Node would
 * silently drop those past its own count (agent-listener.ts keeps one more), which could hide a
 * second Host or Transfer-Encoding from this check, so a head with more is refused as a whole.
 */
export const MAX_HEADER_FIELDS = 256;

export type CleanHead = RequestHead;

export function cleanHead(req: IncomingMessage): CleanHead {
  const target = req.url ?? '';
  // Absolute-form (`http://host/...`) and asterisk-form targets name a host the broker would ignore.
  if (!target.startsWith('/')) throw unparseable('the request target must be a path (origin-form)');
  if (target.includes('#')) throw unparseable('the request target holds a fragment');
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);

  const raw = req.rawHeaders;
  if (raw.length / 2 > MAX_HEADER_FIELDS) throw new Denial('unparseable_request', `more than ${MAX_HEADER_FIELDS} header fields`, 431);
  const headers: Record<string, string> = Object.create(null);
  let impersonation = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name in headers) {
      if (!LIST_HEADERS.has(name)) throw unparseable(`header ${name} is sent more than once`);
      // RFC 9110 §5.3: a list-valued field sent twice means the same as one joined with ", ".
      headers[name] = `${headers[name]}, ${raw[i + 1]!}`;
      continue;
    }
    if (name.startsWith('impersonate-')) impersonation = true;
    if (name.startsWith('x-seb-') && name !== BROKER_CARRIER) throw unparseable(`header ${name} is the broker's own`);
    headers[name] = raw[i + 1]!;
  }
  // Checked after the header walk so that every unparseable head is refused as such first (SPEC §4 order).
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (te !== undefined && cl !== undefined) throw unparseable('both Content-Length and Transfer-Encoding');
  if (te !== undefined && te.toLowerCase() !== 'chunked') throw unparseable(`transfer-encoding ${te} is not supported`);
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
  if (te !== undefined && req.httpVersion !== '1.1') throw unparseable(`transfer-encoding in an HTTP/${req.httpVersion} request`);
  if (cl !== undefined && !/^\d{1,15}$/.test(cl)) throw unparseable('content-length is not a decimal number');
  if (impersonation) throw new Denial('client_impersonation', 'Impersonate-* headers are never accepted from the client');

  for (const name of Object.keys(headers)) {
    if (DROPPED.has(name) || DROPPED_PREFIXES.some((p) => name.startsWith(p))) delete headers[name];
  }
  const expect = headers['expect'];
  if (expect !== undefined && expect.toLowerCase() !== '100-continue') throw unparseable(`expect ${expect} is not supported`);
  return {
    method: req.method ?? '',
    target,
    path,
    query,
    headers,
    expectContinue: expect !== undefined,
    contentLength: cl === undefined ? (te === undefined ? 0 : null) : Number(cl),
  };
}
