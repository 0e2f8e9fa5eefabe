/**
 * The AWS run-time values `seb op capture` knows (SPEC §2.2: only these, never by guessing; the
 * list is in docs/run-time-values.md): the SDKs' generated idempotency tokens. Pure.
 */
import type { VolatileValue } from '../../contract/types.js';
import tokens from './data/idempotency-tokens.json' with { type: 'json' };
import { findFormField } from '../../contract/body-places.js';
import { parseLocation } from '../../contract/locations.js';
import { isJsonMediaType } from '../../contract/body.js';
import { isIdempotencyToken } from '../../contract/run-time-values.js';
import { jsonAt } from '../../contract/capture-body.js';
import type { AwsOperation } from './types.js';

/** Per signing name and operation, where the SDK puts the token it generates (scripts/gen-idempotency-tokens.py). */
const TOKENS = tokens.services as Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

/**
 * The modelled idempotency tokens this request carries in the SDK's generated form. A token the
 * caller chose (`--client-token run-1`) is not of that form and stays pinned like any other value.
 */
export function awsVolatile(request: AwsOperation, payload: Buffer, contentType: string | undefined): VolatileValue[] {
  const out: VolatileValue[] = [];
  for (const at of TOKENS[request.service]?.[request.operation] ?? []) {
    const place = parseLocation(at);
    if (place === null) continue;
    const value =
      place.in === 'form' ? findFormField(payload, place.name)?.value
      : place.in === 'query' ? request.params[place.name]
      : place.in === 'header' ? request.headers[place.name]
      : place.in === 'json' && isJsonMediaType(contentType) ? jsonAt(payload, at)
      : undefined;
    if (typeof value === 'string' && isIdempotencyToken(value)) out.push({ at, kind: 'idempotency_token' });
  }
  return out;
}
