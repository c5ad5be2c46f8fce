/**
 * Builds the canonical bidirectional flow key of a decoded packet.
 *
 * Key words (KEY_WORDS = 10): 0..3 endpoint A address, 4..7 endpoint B address (IPv4 in
 * word 3 / 7, words above it 0), 8 portA<<16 | portB, 9 meta (protocol, IPv6 bit, ICMP echo
 * bit, VLAN + 1; see flow-export.ts). A is the lesser (address, port) endpoint, so both
 * directions of a conversation produce the same key (RFC 5103 biflow matching).
 * ICMP key ports: the echo identifier for echo request/reply (both slots, echo bit set), else
 * type<<8|code in both slots. Non-first fragments take the ports remembered from their first
 * fragment (fragment-map.ts), else 0.
 * Never: allocates per packet (writes one reused Uint32Array).
 */
import { FragmentKind, IpProto, type DecodedPacket } from '../decode/decoded-packet.ts';
import { META_ECHO, META_V6 } from './flow-export.ts';
import { KEY_WORDS } from './flow-store.ts';
import { FragmentMap } from './fragment-map.ts';

/** `build` result bits. */
export const KeyResult = {
  /** The packet's source is endpoint A. */
  SrcIsA: 1,
  /** A later fragment got its ports from the fragment map. */
  FragmentAttributed: 2,
  /** A later fragment whose first fragment was not seen (ports 0). */
  FragmentUnattributed: 4,
} as const;

const TWO_32 = 4294967296;

/** Owns the reused key buffer and the fragment map. */
export class FlowKeyBuilder {
  /** The key of the last `build` call. */
  readonly key = new Uint32Array(KEY_WORDS);
  readonly fragments: FragmentMap;

  constructor(fragmentMapSize: number) {
    this.fragments = new FragmentMap(fragmentMapSize);
  }

  /** Writes the key of `pkt` (seen at `tsUs`) into `this.key`; returns `KeyResult` bits. */
  build(pkt: DecodedPacket, tsUs: number): number {
    const key = this.key;
    const v6 = pkt.ipVersion === 6;
    const icmp = pkt.protocol === (v6 ? IpProto.Icmpv6 : IpProto.Icmp);
    let sport = 0;
    let dport = 0;
    let echo = 0;
    let result = 0;
    if (pkt.fragment === FragmentKind.Later) {
      const stored = this.fragments.get(pkt, tsUs);
      if (stored < 0) {
        result = KeyResult.FragmentUnattributed;
      } else {
        result = KeyResult.FragmentAttributed;
        echo = stored >= TWO_32 ? 1 : 0;
        const packed = stored >= TWO_32 ? stored - TWO_32 : stored;
        sport = packed >>> 16;
        dport = packed & 0xffff;
      }
    } else {
      if (!icmp) {
        sport = pkt.srcPort;
        dport = pkt.dstPort;
      } else if (pkt.icmpId >= 0) {
        sport = dport = pkt.icmpId;
        echo = 1;
      } else if (pkt.icmpType >= 0) {
        sport = dport = (pkt.icmpType << 8) | pkt.icmpCode;
      }
      if (pkt.fragment === FragmentKind.First) this.fragments.put(pkt, (((sport << 16) | dport) >>> 0) + echo * TWO_32, tsUs);
    }
    if (v6) {
      for (let i = 0; i < 4; i++) {
        key[i] = pkt.src6[i];
        key[4 + i] = pkt.dst6[i];
      }
    } else {
      key[0] = key[1] = key[2] = key[4] = key[5] = key[6] = 0;
      key[3] = pkt.srcV4;
      key[7] = pkt.dstV4;
    }
    let cmp = sport - dport;
    for (let i = 0; i < 4; i++) {
      if (key[i] !== key[4 + i]) {
        cmp = key[i] < key[4 + i] ? -1 : 1;
        break;
      }
    }
    const srcIsA = cmp <= 0;
    if (!srcIsA) {
      for (let i = 0; i < 4; i++) {
        const t = key[i];
        key[i] = key[4 + i];
        key[4 + i] = t;
      }
    }
    key[8] = srcIsA ? (sport << 16) | dport : (dport << 16) | sport;
    key[9] = pkt.protocol | (v6 ? META_V6 : 0) | (echo === 1 ? META_ECHO : 0) | ((pkt.vlanId + 1) << 16);
    return srcIsA ? result | KeyResult.SrcIsA : result;
  }
}
