/**
 * A parsed config for driving one target adapter alone (test/targets/{aws,kube}/adapter.test.ts):
 * the sections every config needs, the read executor named `reader`, and the test's executors and
 * target section. Nothing in it is read from disk: the adapters read only executors and limits.
 */
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

export function adapterConfig(sections: Record<string, unknown>, baseDir: string): Config {
  const base = { broker: { audience: 'aud' }, trust: { issuers: [{ iss: 'sab', jwks: 'sab.jwks' }] }, authority: { iss: 'sab', file: 'a.jws' }, read_executor: 'reader' };
  return parseConfig(stringify({ ...base, ...sections }), baseDir);
}
