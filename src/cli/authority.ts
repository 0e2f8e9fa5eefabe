/**
 * `seb authority issue` (SPEC §9, §6): a signed authority state for a development issuer or a test.
 * `iat` is now; the broker accepts the state until `iat + max_age`, so a real issuer re-signs with
 * a higher `seq` before then.
 */
import { AUTHORITY_TYP } from '../certificate/carrier.js';
import { flagInteger, flagList, flagString, sign, signerFrom } from './cert.js';
import { UsageError, type Command } from './command.js';

const DEFAULT_MAX_AGE = 30;

export const command: Command = {
  path: ['authority', 'issue'],
  summary: 'print a signed authority state (compact JWS)',
  usage: '--key FILE --iss ISS --seq N --policy-epoch N --revocation-epoch N [--revoke-jti ID ...] [--revoke-sub SUB ...] [--max-age S]',
  flags: [
    { name: 'key', type: 'string', required: true, value: 'FILE', help: 'private JWK of the authority issuer' },
    { name: 'iss', type: 'string', required: true, value: 'ISS', help: 'issuer id (the broker\'s authority.iss)' },
    { name: 'seq', type: 'number', required: true, value: 'N', help: 'sequence number; must exceed the broker\'s current one' },
    { name: 'policy-epoch', type: 'number', required: true, value: 'N', help: 'current policy epoch' },
    { name: 'revocation-epoch', type: 'number', required: true, value: 'N', help: 'current revocation epoch' },
    { name: 'revoke-jti', type: 'string', repeat: true, value: 'ID', help: 'revoke a certificate id' },
    { name: 'revoke-sub', type: 'string', repeat: true, value: 'SUB', help: 'revoke an agent principal' },
    { name: 'max-age', type: 'number', value: 'S', help: `seconds the state stays fresh (default ${DEFAULT_MAX_AGE})` },
  ],
  async run(args, io) {
    const problems: string[] = [];
    const keyPath = flagString(args.flags['key'], '--key', problems);
    const iss = flagString(args.flags['iss'], '--iss', problems);
    const seq = flagInteger(args.flags['seq'], '--seq', 0, problems);
    const policyEpoch = flagInteger(args.flags['policy-epoch'], '--policy-epoch', 0, problems);
    const revocationEpoch = flagInteger(args.flags['revocation-epoch'], '--revocation-epoch', 0, problems);
    const maxAge = flagInteger(args.flags['max-age'] ?? DEFAULT_MAX_AGE, '--max-age', 1, problems);
    const jti = flagList(args.flags['revoke-jti'], '--revoke-jti', problems);
    const sub = flagList(args.flags['revoke-sub'], '--revoke-sub', problems);
    if (problems.length > 0) throw new UsageError(problems);

    const signer = await signerFrom(keyPath);
    const claims = {
      iss,
      seq,
      iat: Math.floor(Date.now() / 1000),
      max_age: maxAge,
      policy_epoch: policyEpoch,
      revocation_epoch: revocationEpoch,
      revoked: { jti, sub },
    };
    io.stdout.write(`${await sign(claims, AUTHORITY_TYP, signer)}\n`);
    return 0;
  },
};
