import { sha256Hex } from '../lib/digest.js';
import { canonicalJson } from '../lib/jcs.js';
import { parseStrictJson } from '../lib/strict-json.js';
import type { BodyBinding } from './types.js';

/** JSON media types: the only ones whose bodies may be bound by `jcs_sha256` (SPEC §2.1). */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json') || /^application\/x-amz-json-1\.[01]$/.test(type);
}

/**
 * Does `payload` satisfy the binding? A `jcs_sha256` body that is not strict I-JSON throws
 * `unparseable_request` (SPEC §2.1), it does not merely fail to match.
 */
export function bodyMatches(binding: BodyBinding, payload: Buffer, contentType: string | undefined, json: () => unknown = () => parseStrictJson(payload)): boolean {
  if (binding === null) return payload.length === 0;
  if ('any' in binding) return true;
  if ('sha256' in binding) return sha256Hex(payload) === binding.sha256;
  if (!isJsonMediaType(contentType)) return false;
  return sha256Hex(canonicalJson(json())) === binding.jcs_sha256;
}
