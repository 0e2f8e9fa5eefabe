/** The admin listener (SPEC §1): health, readiness, Prometheus metrics and the record-signing JWKS. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from './metrics.js';

export interface AdminDeps {
  readonly metrics: Metrics;
  /** The broker's public record-signing keys, served as a JWKS. */
  readonly jwks: { readonly keys: readonly object[] };
  /** Each named condition must hold for /readyz to answer 200. */
  readonly readiness: () => Readonly<Record<string, boolean>>;
}

export function adminHandler(deps: AdminDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const keysBody = JSON.stringify(deps.jwks);
  return (req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(res, 200, 'text/plain', 'ok\n');
      case '/readyz': {
        const checks = deps.readiness();
        const ready = Object.values(checks).every(Boolean);
        return send(res, ready ? 200 : 503, 'application/json', `${JSON.stringify({ ready, checks })}\n`);
      }
      case '/keys':
        return send(res, 200, 'application/jwk-set+json', keysBody);
      case '/metrics':
        deps.metrics.registry.metrics().then(
          (text) => send(res, 200, deps.metrics.registry.contentType, text),
          () => send(res, 500, 'text/plain', 'metrics unavailable\n'),
        );
        return;
      default:
        return send(res, 404, 'text/plain', 'not found\n');
    }
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
