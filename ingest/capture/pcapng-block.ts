/**
 * pcapng block sizing (draft-ietf-opsawg-pcapng §3.1): which blocks are buffered whole and
 * how large each may be; everything else is consumed header-only and skipped by length.
 *
 * Owns: the per-type length limits that keep buffering bounded. Pure.
 */
import { BlockType, MAX_IDB_BYTES, MAX_PACKET_BLOCK_BYTES } from './capture-format.ts';

/** Bytes of a section header read before its body is skipped: type, length, BOM, version. */
export const SECTION_HEADER_READ_BYTES = 16;
/** Bytes of any other skipped block read before its body is skipped: type, length. */
export const SKIPPED_BLOCK_READ_BYTES = 8;

/**
 * For a block of `type` and total length `len` (already known to be a multiple of 4 and
 * ≥ 12): the bytes to consume now — the whole block for interface and packet blocks, only
 * the header for the rest — or the reason the length is impossible.
 */
export function planBlock(type: number, len: number): number | string {
  switch (type) {
    case BlockType.SectionHeader:
      return len < 28 ? 'section header too short' : SECTION_HEADER_READ_BYTES;
    case BlockType.InterfaceDescription:
      return len < 20 || len > MAX_IDB_BYTES ? 'interface description has an impossible length' : len;
    case BlockType.EnhancedPacket:
    case BlockType.Packet:
      return len < 32 || len > MAX_PACKET_BLOCK_BYTES ? 'packet block has an impossible length' : len;
    case BlockType.SimplePacket:
      return len < 16 || len > MAX_PACKET_BLOCK_BYTES ? 'simple packet block has an impossible length' : len;
    default:
      return SKIPPED_BLOCK_READ_BYTES;
  }
}
