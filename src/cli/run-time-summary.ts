/**
 * `seb cert inspect`: the run-time values a certificate lets the client or the upstream supply
 * (SPEC §2.2), one line each, so a reviewer sees at a glance what may vary and how it is checked.
 * Reads the unverified claims: it explains, it never admits.
 */
const CHECKS: Readonly<Record<string, string>> = {
  timestamp: "RFC 3339, inside the validity window and within trust.clock_skew of the broker's clock",
  idempotency_token: 'a UUID v4, each value usable once per certificate',
};

/** Lines describing every `volatile` and `bind` entry of the claims' ops; [] when there are none. */
export function runTimeSummary(claims: unknown): string[] {
  const ops = (claims as { contract?: { ops?: unknown } } | null)?.contract?.ops;
  if (!Array.isArray(ops)) return [];
  const lines: string[] = [];
  ops.forEach((op: unknown, i) => {
    if (typeof op !== 'object' || op === null) return;
    const o = op as Record<string, unknown>;
    const name = String(o['operation'] ?? `${o['verb'] ?? '?'} ${o['resource'] ?? '?'}`);
    for (const v of Array.isArray(o['volatile']) ? o['volatile'] : []) {
      const e = v as { at?: unknown; kind?: unknown };
      lines.push(`  op ${i} ${name}: ${String(e.at)} is ${String(e.kind)} (${CHECKS[String(e.kind)] ?? 'unknown kind: refused'})`);
    }
    for (const b of Array.isArray(o['bind']) ? o['bind'] : []) {
      const e = b as { at?: unknown; from?: { op?: unknown; value?: unknown } };
      lines.push(`  op ${i} ${name}: ${String(e.at)} must equal ${String(e.from?.value)} of op ${String(e.from?.op)}'s answer as the broker relayed it`);
    }
  });
  return lines.length ? ['run-time values (every other byte is pinned):', ...lines] : [];
}
