/**
 * The certificate as SPEC §2 defines it, after validation. Its ops are the contract's own types
 * (contract/types.ts, a layer below), re-exported here for the certificate's readers.
 */
import type { Op } from '../contract/types.js';

export type * from '../contract/types.js';

export interface Contract {
  readonly id: string;
  readonly evidence: string;
  readonly ops: readonly Op[];
}

/** A certificate whose signature, header and claim shapes have been verified. */
export interface Certificate {
  readonly kid: string;
  readonly iss: string;
  readonly sub: string;
  readonly aud: readonly string[];
  readonly jti: string;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly policy_epoch: number;
  readonly revocation_epoch: number;
  readonly execution_identity: string;
  readonly contract: Contract;
}
