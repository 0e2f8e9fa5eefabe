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
  limits: {
    max_body_bytes: 10485760,
    request_timeout: 30,
    max_stream: 3600,
    // The old single pools held 128 (AWS) and 64 (apiserver) connections: certified work keeps 64
    // of its own, and reads and streams can no longer take them.
    concurrent_certified: 64,
    concurrent_certified_streams: 16,
    concurrent_reads: 64,
    concurrent_read_streams: 32,
    // The agent sits beside the broker on loopback: a client that takes less than 16 KiB/s holds a
    // connection on purpose.
    min_read_rate: 16384,
  },
} as const);
