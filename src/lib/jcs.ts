import canonicalize from 'canonicalize';

/**
 * RFC 8785 (JCS) form of a JSON value: the form that record signatures (SPEC §8) and
 * `jcs_sha256` body bindings (SPEC §2.1) are computed over.
 *
 * Throws where JSON cannot hold the value, so that nothing is ever signed or hashed in a form a
 * verifier could not rebuild: undefined, functions and symbols at the top level, non-finite
 * numbers, bigint, lone surrogates and cycles. Inside objects and arrays, undefined and
 * functions follow JSON.stringify (dropped from objects, null in arrays), which is what a
 * verifier that re-parses the written JSON sees.
 */
export function canonicalJson(value: unknown): string {
  // canonicalize returns undefined (rather than throwing) for top-level values JSON.stringify drops.
  const out = canonicalize(value);
  if (out === undefined) throw new TypeError(`JSON cannot hold a value of type ${typeof value}`);
  return out;
}
