/**
 * The query and ec2 protocols (SPEC §2.1: "query protocol means POST `/`, no query string, the form
 * content type, unique keys"). Everything the operation does is in the form body, which the
 * certificate binds by hash, so `params` is `{}`.
 */
import { unparseable } from '../../reasons.js';
import type { ServiceModel, SigningGroup } from './services.js';
import type { AwsHttpRequest } from './types.js';

// Exactly what botocore and the JS SDK send, in any case, with an optional UTF-8 charset.
const FORM_TYPE = /^application\/x-www-form-urlencoded(\s*;\s*charset=utf-8)?$/i;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const CONTROL_FIELDS: ReadonlySet<string> = new Set(['action', 'version']);

/** What a query request asks for, before the catalog looks at its parameters. */
export interface QueryCall {
  readonly model: ServiceModel;
  readonly operation: string;
  /** Every form field but `Action` and `Version`, decoded. Null prototype. */
  readonly form: Readonly<Record<string, string>>;
}

/** Checks the request line and headers: what can be refused before the body arrives. */
export function checkQueryHead(req: AwsHttpRequest): void {
  if (req.method !== 'POST' || req.path !== '/') throw unparseable('a query-protocol request must be POST /');
  if (req.query !== '') throw unparseable('a query-protocol request carries no query string');
  if (req.headers['x-amz-target'] !== undefined) throw unparseable('a query-protocol request carries no X-Amz-Target');
  const type = req.headers['content-type'];
  if (type === undefined || !FORM_TYPE.test(type)) {
    throw unparseable('a query-protocol request must be application/x-www-form-urlencoded');
  }
}

/**
 * Reads the form body: `Version` names the model (classic ELB is 2012-06-01 beside ELBv2's
 * 2015-12-01 under one signing name), and `Action` must be an operation of that model.
 */
export function readQueryBody(group: SigningGroup, payload: Buffer): QueryCall {
  const form = parseForm(payload);
  const action = form['Action'];
  const version = form['Version'];
  if (action === undefined || version === undefined) throw unparseable('the form needs Action and Version');
  // No input member of a query or ec2 model is serialised as `action` or `version` in any case
  // (checked over botocore's models): a case variant beside the real one could only name a second
  // operation to an upstream that folds parameter names, as a certificate-free read.
  const variant = Object.keys(form).find((name) => CONTROL_FIELDS.has(name.toLowerCase()) && name !== 'Action' && name !== 'Version');
  if (variant !== undefined) throw unparseable(`the form names ${variant} beside Action and Version`);
  const model = group.byVersion.get(version);
  if (model === undefined) {
    const served = [...group.byVersion.keys()].join(', ');
    throw unparseable(`${group.own.signingName} is served at API version ${served}, not ${version}`);
  }
  if (!model.operations.has(action)) throw unparseable(`${action} is not an operation of ${model.model}`);
  delete form['Action'];
  delete form['Version'];
  return { model, operation: action, form };
}

/**
 * application/x-www-form-urlencoded, read strictly: `+` is a space (exact for this media type),
 * every `%` starts a two-digit escape, the bytes are UTF-8, names are non-empty and unique, every
 * pair has `=` (upstreams differ on a bare name and on repeated names: refuse, never guess).
 */
export function parseForm(payload: Buffer): Record<string, string> {
  let text: string;
  try {
    text = UTF8.decode(payload);
  } catch {
    throw unparseable('the form body is not valid UTF-8');
  }
  const out: Record<string, string> = Object.create(null);
  if (text === '') return out;
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=');
    if (eq === -1) throw unparseable('a form field has no =');
    const name = decodeForm(pair.slice(0, eq));
    if (name === '') throw unparseable('a form field has an empty name');
    if (name in out) throw unparseable(`form field ${name} is sent more than once`);
    out[name] = decodeForm(pair.slice(eq + 1));
  }
  return out;
}

function decodeForm(s: string): string {
  if (ESCAPE.test(s)) throw unparseable('a % in the form is not followed by two hex digits');
  // Control characters must arrive percent-encoded; raw ones suggest a different encoder.
  if (/[\x00-\x1f\x7f]/.test(s)) throw unparseable('the form holds a raw control character');
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    throw unparseable('percent-decoding the form does not give valid UTF-8');
  }
}
