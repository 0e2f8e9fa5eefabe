/**
 * Starts the authority source the config names (SPEC §6 "Sources", §10 `authority`): a file, an
 * HTTP URL or a ConfigMap key. Every source only fetches bytes; each state goes through
 * Authority.offer, which alone decides (signature, issuer, seq, iat, max_age), logs and counts
 * refusals. A source's own failures are logged and counted here, by source.
 */
import type { Config } from '../config/types.js';
import { watchAuthorityConfigMap } from './configmap-source.js';
import { watchAuthorityFile } from './file-source.js';
import type { Authority } from './state.js';
import { watchAuthorityUrl } from './url-source.js';
import type { AuthoritySource, Problem } from './source-types.js';

/** The counter a source's failures go to (`seb_authority_source_errors_total` in server/metrics.ts). */
export interface SourceErrorCounter {
  inc(labels: { source: string }): void;
}

type SourceKind = 'file' | 'url' | 'configmap';

export function startAuthoritySource(
  config: Config,
  authority: Authority,
  deps: { readonly metrics: { readonly authoritySourceErrors: SourceErrorCounter }; readonly log: (line: string) => void },
): Promise<AuthoritySource> {
  const source = config.authority.source;
  const kind: SourceKind = 'file' in source ? 'file' : 'url' in source ? 'url' : 'configmap';
  const problem: Problem = (detail) => {
    deps.metrics.authoritySourceErrors.inc({ source: kind });
    deps.log(`seb: ${detail}`);
  };
  if ('file' in source) return watchAuthorityFile(source.file, authority, problem);
  if ('url' in source) return watchAuthorityUrl(source.url, authority, problem);
  // config/sections.ts refuses a configmap source without the kube section.
  if (config.kube === null) throw new Error('authority.configmap needs the kube section');
  return watchAuthorityConfigMap(config.kube, source.configmap, authority, problem);
}
