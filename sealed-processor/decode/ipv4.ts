/**
 * IPv4 header (RFC 791 §3.1; fragmentation RFC 791 §2.3, RFC 6864 for the ID field).
 *
 * Offsets: 0 version(4 bits)/IHL(4 bits, 32-bit words) · 1 DSCP/ECN · 2..3 total length ·
 * 4..5 identification · 6..7 flags (bit 0x2000 = MF) / fragment offset (13 bits, 8-byte
 * units) · 8 TTL · 9 protocol · 10..11 checksum · 12..15 source · 16..19 destination ·
 * 20.. options (IHL*4 - 20 bytes).
 * Checks: version 4, IHL ≥ 5, total length ≥ IHL*4, header (with options) captured.
 * The checksum is not verified: captures on hosts with checksum offload carry bad ones.
 * Total length 0 (TCP segmentation offload, as Wireshark notes) is read as "rest of frame".
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, FragmentKind, type DecodedPacket } from './decoded-packet.ts';

/**
 * Layer-3 bytes still on the wire from `offset`, from the frame's original length
 * (never below what was captured, so a lying orig_len cannot shrink it below reality).
 */
export function wireBytesFrom(out: DecodedPacket, offset: number): number {
  const frame = out.wireLength > out.capturedLength ? out.wireLength : out.capturedLength;
  return frame - (offset - out.linkOffset);
}

/**
 * Decodes an IPv4 header at `offset`. Sets addresses, protocol, `ipBytes` (total length,
 * clamped to the frame's wire length), `ipEnd`, fragment kind/id.
 * @returns offset of the transport header, or a negative `DropReason`.
 */
export function decodeIpv4(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 20 > end) return DropReason.IpTruncated;
  const b0 = view.getUint8(offset);
  if (b0 >> 4 !== 4) return DropReason.BadIpVersion;
  const headerLen = (b0 & 0x0f) * 4;
  if (headerLen < 20) return DropReason.BadIpv4Header;
  let total = view.getUint16(offset + 2);
  const wire = wireBytesFrom(out, offset);
  if (total === 0) total = wire;
  if (total < headerLen) return DropReason.BadIpv4Header;
  if (offset + headerLen > end) return DropReason.IpTruncated;
  // A header claiming more than the frame held is counted as what the frame held.
  out.ipBytes = total > wire ? wire : total;
  out.ipVersion = 4;
  out.l3Offset = offset;
  out.protocol = view.getUint8(offset + 9);
  out.srcV4 = view.getUint32(offset + 12);
  out.dstV4 = view.getUint32(offset + 16);
  const frag = view.getUint16(offset + 6);
  if ((frag & 0x1fff) !== 0) out.fragment = FragmentKind.Later;
  else if ((frag & 0x2000) !== 0) out.fragment = FragmentKind.First;
  out.fragmentId = view.getUint16(offset + 4);
  const ipEnd = offset + out.ipBytes;
  out.ipEnd = ipEnd < end ? ipEnd : end;
  return offset + headerLen;
}
