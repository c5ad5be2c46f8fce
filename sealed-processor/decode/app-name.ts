/**
 * Which application name a packet's payload may carry, and its extraction.
 *
 * Owns: the cheap per-packet test (`classifyAppPayload`: ports and first byte, no
 * allocation) and the dispatch to the DNS / TLS SNI / HTTP Host extractors, which create a
 * string only on success. The flow table calls `extractAppName` at most a few times per flow
 * and stores the first name found, so a flow creates each string at most once.
 * Never: reads beyond the captured payload, or creates a string for a rejected name.
 */
import { IpProto, type DecodedPacket } from './decoded-packet.ts';
import { extractDnsQname } from './dns-name.ts';
import { extractHttpHost } from './http-host.ts';
import { extractTlsSni } from './tls-sni.ts';

/** The name a payload may carry (selects the flow record column). */
export const AppNameKind = { None: 0, Dns: 1, TlsSni: 2, HttpHost: 3 } as const;
export type AppNameKind = (typeof AppNameKind)[keyof typeof AppNameKind];

function isDnsPort(port: number): boolean {
  return port === 53 || port === 5353;
}

/**
 * Classifies a decoded packet's payload without allocating: DNS (UDP or TCP port 53/5353),
 * TLS (TCP payload starting with a handshake record, 0x16) or HTTP (TCP payload starting
 * with an upper-case letter; the method is verified by the extractor).
 */
export function classifyAppPayload(pkt: DecodedPacket): AppNameKind {
  if (pkt.payloadLength <= 0) return AppNameKind.None;
  const dnsPort = isDnsPort(pkt.srcPort) || isDnsPort(pkt.dstPort);
  if (pkt.protocol === IpProto.Udp) return dnsPort ? AppNameKind.Dns : AppNameKind.None;
  if (pkt.protocol !== IpProto.Tcp) return AppNameKind.None;
  if (dnsPort) return AppNameKind.Dns;
  const first = pkt.bytes[pkt.payloadOffset];
  if (first === 0x16) return AppNameKind.TlsSni;
  if (first >= 0x41 && first <= 0x5a) return AppNameKind.HttpHost;
  return AppNameKind.None;
}

/**
 * Extracts the name of kind `kind` from the packet's captured payload.
 * @returns lowercase name, or null when none is present or it is malformed.
 */
export function extractAppName(pkt: DecodedPacket, kind: AppNameKind): string | null {
  const start = pkt.payloadOffset;
  const end = start + pkt.payloadLength;
  switch (kind) {
    case AppNameKind.Dns:
      return extractDnsQname(pkt.bytes, start, end, pkt.protocol === IpProto.Tcp);
    case AppNameKind.TlsSni:
      return extractTlsSni(pkt.bytes, start, end);
    case AppNameKind.HttpHost:
      return extractHttpHost(pkt.bytes, start, end);
    default:
      return null;
  }
}
