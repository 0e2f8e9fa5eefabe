/**
 * The shared ledger's key names (redis.ts, redis-reservation.ts): one prefix for every key the
 * broker writes, so an operator can find and size them, and digests where a key would otherwise
 * hold whatever an issuer put in `iss`.
 */
import { sha256Base64url } from '../lib/digest.js';
import type { AnswerKey, UseKey } from './types.js';

const KEY_PREFIX = 'seb:replay:';
/** When the store's memory begins (redis-scripts.ts SINCE). */
export const SINCE_KEY = `${KEY_PREFIX}since`;
/** How many commits the store holds (redis-scripts.ts): a count that goes back means lost writes. */
export const COUNT_KEY = `${KEY_PREFIX}commits`;

/**
 * One hash per (iss, jti, op), or per (iss, jti, token) for an idempotency token (SPEC §2.2); a
 * digest keeps the key short and free of separators whatever `iss` holds.
 */
export function useKey(key: UseKey): string {
  const id = key.token === undefined ? [key.iss, key.jti, key.op] : [key.iss, key.jti, 'token', key.token];
  return `${KEY_PREFIX}use:${sha256Base64url(JSON.stringify(id))}`;
}

/** One string per (iss, jti, op, source): the value a later op of the certificate binds to. */
export function answerKey(key: AnswerKey): string {
  return `${KEY_PREFIX}answer:${sha256Base64url(JSON.stringify([key.iss, key.jti, key.op, key.source]))}`;
}
