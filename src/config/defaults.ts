import { deepFreeze } from './deep-freeze.js';

/** Every default of SPEC §10, in one place. Fields not listed here have no default. */
export const DEFAULTS = deepFreeze({
  broker: { id: 'seb' },
  listen: { aws: '127.0.0.1:15001', kube: '127.0.0.1:15002', admin: '127.0.0.1:15090' },
  trust: { max_validity: 900, clock_skew: 30 },
  authority: { max_age_cap: 300 },
  reads: 'allow',
  aws: { credentials: 'default', allow_insecure_endpoints: false, mint: 'per_scope' },
  kube: { client_dir: '/var/run/seb' },
  records: { sink: 'stdout', sign: 'every' },
  replay: { store: 'memory', redis: { check_persistence: true } },
  limits: { max_body_bytes: 10485760, request_timeout: 30, max_stream: 3600 },
} as const);
