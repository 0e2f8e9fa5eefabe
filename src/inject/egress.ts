/**
 * The `seb.dev/agent-egress` allow-list: `CIDR:PORT` entries the agent's UID may still reach past
 * the init container's reject rule (e.g. an egress proxy). The init script checks the same rules
 * (sidecar/init/seb-init.sh); checking here too turns a bad annotation into an admission error the
 * user sees at once, instead of an init container that fails after scheduling.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * The credential endpoints on the instance's link-local network (SPEC §11): IMDS (IPv4 and the
 * Nitro IPv6 address), the ECS task credential endpoint and the EKS Pod Identity agent. No entry
 * may cover one, whatever its port.
 */
export const METADATA_ADDRESSES: readonly { readonly address: string; readonly family: 'ipv4' | 'ipv6' }[] = [
  { address: '169.254.169.254', family: 'ipv4' },
  { address: '169.254.170.2', family: 'ipv4' },
  { address: '169.254.170.23', family: 'ipv4' },
  { address: 'fd00:ec2::254', family: 'ipv6' },
];

export interface EgressRule {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  readonly prefix: number;
  readonly port: number;
}

const PORT = /^[1-9]\d{0,4}$/;
const PREFIX = /^(0|[1-9]\d{0,2})$/;
// Hex groups only: a dotted IPv4 tail in an IPv6 address is not something the init script reads.
const IPV6_CHARS = /^[0-9a-fA-F:]+$/;

/** Parses the annotation value (comma-separated, blanks ignored); throws an Error naming the bad entry. */
export function parseEgress(value: string): EgressRule[] {
  const rules: EgressRule[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    rules.push(parseEntry(entry));
  }
  return rules;
}

function parseEntry(entry: string): EgressRule {
  const colon = entry.lastIndexOf(':');
  const slash = entry.indexOf('/');
  const bad = (why: string): Error => new Error(`${JSON.stringify(entry)}: ${why}`);
  if (colon === -1 || slash === -1 || slash > colon) throw bad('not CIDR:PORT (e.g. 10.0.0.0/24:3128)');
  const address = entry.slice(0, slash);
  const prefixText = entry.slice(slash + 1, colon);
  const portText = entry.slice(colon + 1);
  if (!PORT.test(portText) || Number(portText) > 65535) throw bad('the port must be 1-65535');
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) && IPV6_CHARS.test(address) ? 'ipv6' : undefined;
  if (family === undefined) throw bad('not an IPv4 or hex IPv6 address');
  const prefix = Number(prefixText);
  if (!PREFIX.test(prefixText) || prefix > (family === 'ipv4' ? 32 : 128)) throw bad('bad prefix length');
  const covered = new BlockList();
  covered.addSubnet(address, prefix, family);
  const hit = METADATA_ADDRESSES.find((m) => m.family === family && covered.check(m.address, m.family));
  if (hit !== undefined) throw bad(`covers ${hit.address}, a credential endpoint the agent must never reach`);
  return { family, address, prefix, port: Number(portText) };
}

/** The list as the init container reads it from SEB_AGENT_EGRESS. */
export function formatEgress(rules: readonly EgressRule[]): string {
  return rules.map((r) => `${r.address}/${r.prefix}:${r.port}`).join(',');
}
