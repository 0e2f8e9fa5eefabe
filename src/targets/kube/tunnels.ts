/**
 * What an HTTP upgrade to the apiserver means for a certificate's use and for the ports a
 * port-forward reaches (SPEC §2.1). Pure: the handler feeds it the request and what happened
 * upstream, and does what it says.
 */
import type { KubeRequestInfo } from './request-info.js';

/** The subresources the apiserver serves as an HTTP upgrade; anywhere else an Upgrade is refused. */
export const UPGRADABLE_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward', 'proxy']);

/**
 * exec, attach and portforward: the apiserver runs nothing for them without the upgrade (kubectl's
 * WebSocket try is answered 400 and falls back to SPDY), so their use is spent on the 101. A
 * `proxy` request reaches its backend whatever the answer, so it spends its use once sent, like
 * every other request (SPEC §2.1).
 */
const SPENT_ON_101: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

export function spendsOnUpgrade(info: KubeRequestInfo): boolean {
  return info.isResource && info.verb !== 'proxy' && SPENT_ON_101.has(info.subresource);
}

/** How a tunnel request that holds a reserved use ended upstream. */
export type TunnelEnd =
  /** The apiserver answered 101: the session began. */
  | { readonly kind: 'upgraded' }
  /** The apiserver answered without upgrading: nothing ran. */
  | { readonly kind: 'refused'; readonly status: number }
  /**
   * No answer: the connection failed or timed out. `sent` is whether the request may have reached
   * the apiserver (the TLS connection was up when it was written).
   */
  | { readonly kind: 'failed'; readonly sent: boolean };

/**
 * SPEC §2.1, §4: once the request may have reached the apiserver, its use is given back only on a
 * definite answer that did not upgrade. A client that left, a reset or a timeout after sending
 * tells nothing about what ran upstream, so the use stays spent.
 */
export function settleTunnelUse(end: TunnelEnd): 'commit' | 'release' {
  switch (end.kind) {
    case 'upgraded':
      return 'commit';
    case 'refused':
      return 'release';
    case 'failed':
      return end.sent ? 'commit' : 'release';
  }
}

/**
 * The WebSocket channel subprotocols. With only these offered, the apiserver proxies the upgrade
 * to the kubelet, which takes a port-forward's ports from the URL (the apiserver turns `?ports=`
 * into the kubelet's `?port=`, and data channel 2i carries port i) and refuses a session in any of
 * them it does not speak. Every other form carries the port inside the stream: SPDY over the upgrade
 * (`portforward.k8s.io`) and SPDY tunnelled in WebSocket (`SPDY/3.1+portforward.k8s.io`, which the
 * apiserver picks whenever it is offered, whatever else is). client-node offers the whole list.
 */
export const PORT_CHANNEL_PROTOCOLS: ReadonlySet<string> = new Set([
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
]);

/**
 * Why a port-forward whose op pins `ports` cannot be held to them, or null when it can: only a
 * WebSocket upgrade that offers nothing but the channel protocols is honoured port by port
 * upstream. `upgrade` and `protocols` are the client's `Upgrade` and `Sec-WebSocket-Protocol`
 * headers as sent (hygiene refuses a repeated `Upgrade`; repeated protocol headers arrive joined).
 */
export function unpinnablePorts(info: KubeRequestInfo, params: Readonly<Record<string, readonly string[]>>, upgrade: string | undefined, protocols: string | undefined): string | null {
  if (info.subresource !== 'portforward' || params['ports'] === undefined) return null;
  if ((upgrade ?? '').trim().toLowerCase() !== 'websocket') {
    return 'the op pins ports, and only the WebSocket channel protocols carry ports the apiserver honours (SPDY carries them inside the stream)';
  }
  const offered = (protocols ?? '').split(',').map((p) => p.trim());
  if (offered.some((p) => !PORT_CHANNEL_PROTOCOLS.has(p))) {
    return `the op pins ports: offer only ${[...PORT_CHANNEL_PROTOCOLS].join(' or ')} (other protocols carry the port inside the stream)`;
  }
  return null;
}
