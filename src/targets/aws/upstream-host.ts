/**
 * Which host a request goes to when it is not its signing name's own (SPEC §2.1: the broker picks
 * the upstream from its own table, never from the Host the client sent): the model's endpoint
 * prefix, and the operation's `endpoint.hostPrefix` filled from the pinned request. Pure.
 */
import { unparseable } from '../../reasons.js';
import type { AwsHttpRequest } from './types.js';

/** A host prefix label must stay one DNS label, or the value would pick another host. */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const PREFIX_LABEL = /\{(header|body):([^{}]+)\}/g;
const ACCOUNT_LABEL = /^\d{12}$/;
/** S3 Control's path prefix, which is also a valid S3 bucket name. */
export const S3_CONTROL_PATH = '/v20180820/';

/**
 * The host prefix of a routed operation (`rest-routes.json` writes `{header:<name>}` where the
 * model binds a label to a header), filled from the request's headers, which the certificate pins
 * as semantic headers. A label bound to a body member is refused: the broker would have to read
 * the body to know the host.
 */
export function fillHostPrefix(template: string, headers: Readonly<Record<string, string>>): string {
  if (template === '') return '';
  return template.replace(PREFIX_LABEL, (_, where: string, name: string) => {
    if (where !== 'header') throw unparseable(`the host prefix takes ${name} from the body, which is not served`);
    const value = headers[name];
    if (value === undefined || !DNS_LABEL.test(value)) throw unparseable(`the host prefix needs ${name} as one DNS label`);
    return value;
  });
}

/**
 * Refuses a Host that names the model's endpoint with another prefix than the one the broker
 * computed (a client with host prefix injection on, addressing `<prefix><endpointPrefix>.<region>...`
 * directly, as through the HTTPS tunnel). A Host that does not name the endpoint (the broker's own
 * address) or names it without a prefix (prefix injection off) says nothing and is not checked.
 */
export function checkHostPrefix(req: AwsHttpRequest, endpointPrefix: string, hostPrefix: string): void {
  const host = hostName(req);
  const at = host.indexOf(`${endpointPrefix}.`);
  // No prefix at all: the client left it to the broker (botocore's inject_host_prefix off).
  if (at <= 0 || (host[at - 1] !== '.' && host[at - 1] !== '-')) return;
  if (host.slice(0, at) !== hostPrefix) {
    throw unparseable(`the Host names the prefix "${host.slice(0, at)}", the request "${hostPrefix}"`);
  }
}

/**
 * Whether an `s3`-signed request is for S3 Control. Both are signed `s3` and S3 Control's path
 * prefix `/v20180820/` is also a valid bucket name, so only the host the client addressed tells:
 * `[<account>.]s3-control[-fips].<region>...` (the AWS host, also reached through the HTTPS
 * tunnel, or an endpoint the operator names so). A `/v20180820/` path at any other host could be
 * either and is refused, never guessed.
 */
export function isS3Control(req: AwsHttpRequest): boolean {
  const labels = hostName(req).split('.');
  if (labels.length > 1 && ACCOUNT_LABEL.test(labels[0]!)) labels.shift();
  const control = labels[0] === 's3-control' || labels[0] === 's3-control-fips';
  if (!control && (req.path.startsWith(S3_CONTROL_PATH) || req.path === S3_CONTROL_PATH.slice(0, -1))) {
    throw unparseable('an S3 path /v20180820/ is S3 Control only at an s3-control host: address it there');
  }
  return control;
}

/** The Host header's name, lower-cased, without the port. */
function hostName(req: AwsHttpRequest): string {
  const host = (req.headers['host'] ?? '').toLowerCase();
  // An IPv6 literal keeps its colons; it never names an endpoint.
  if (host.startsWith('[')) return host;
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
