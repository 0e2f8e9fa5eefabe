/** Pieces of records built from untrusted input (SPEC §8: agent strings recorded escaped). */
import type { Certificate } from '../certificate/types.js';
import type { SeenValue } from '../contract/run-time-values.js';

const MAX_TEXT = 1024;

/**
 * Bounds an agent-supplied string and makes control characters visible, so a record line stays
 * short and a log viewer cannot be fooled by embedded escapes. JSON escaping does the rest.
 */
export function safeText(s: string): string {
  const bounded = s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
  return bounded.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * What a record says of the certificate: identifiers only, never the token or its signature. A
 * refused certificate is named by the id it claims, marked unverified; none at all gives null.
 */
export function certificateSummary(cert: Certificate | null, op: number | null, claimedJti: string | null): Record<string, unknown> | null {
  if (!cert) return claimedJti ? { jti: claimedJti, verified: false } : null;
  return {
    jti: cert.jti,
    iss: cert.iss,
    sub: cert.sub,
    execution_identity: cert.execution_identity,
    contract_id: cert.contract.id,
    evidence: cert.contract.evidence,
    op,
  };
}

/**
 * SPEC §2.2: each run-time value the request carried, and each binding it used, in the decision
 * record's request projection; absent for an op that names none, so those records are unchanged.
 */
export function runTimeValues(values: readonly SeenValue[] | undefined): Record<string, unknown> {
  if (!values || values.length === 0) return {};
  return {
    run_time_values: values.map((v) => ({ at: safeText(v.at), ...(v.kind ? { kind: v.kind } : { from: v.from }), value: safeText(v.value) })),
  };
}
