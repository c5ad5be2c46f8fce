/**
 * Constants of the two capture file formats the reader accepts: classic pcap
 * (draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng), plus the reader's limits.
 *
 * Owns: magic numbers, block type codes, option codes and size caps. Pure data.
 */

/** Classic pcap magic numbers as read little-endian from the first 4 bytes. */
export const PcapMagic = {
  /** 0xa1b2c3d4 written little-endian: microsecond timestamps. */
  MicroLe: 0xa1b2c3d4,
  /** 0xa1b2c3d4 written big-endian, read little-endian. */
  MicroBe: 0xd4c3b2a1,
  /** 0xa1b23c4d written little-endian: nanosecond timestamps. */
  NanoLe: 0xa1b23c4d,
  NanoBe: 0x4d3cb2a1,
} as const;

/** pcapng block types (draft-ietf-opsawg-pcapng §10.1). */
export const BlockType = {
  SectionHeader: 0x0a0d0d0a,
  InterfaceDescription: 0x00000001,
  /** Obsolete Packet Block (appendix A). */
  Packet: 0x00000002,
  SimplePacket: 0x00000003,
  NameResolution: 0x00000004,
  InterfaceStatistics: 0x00000005,
  EnhancedPacket: 0x00000006,
  DecryptionSecrets: 0x0000000a,
} as const;

/** Byte-order magic of a section header, as read in the section's own byte order. */
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Interface Description Block option codes used here (§4.2). */
export const IdbOption = { EndOfOptions: 0, TsResol: 9, TsOffset: 14 } as const;

/** Size of the classic pcap file header and per-record header. */
export const PCAP_FILE_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;

/** Largest captured length accepted for one packet (libpcap's MAXIMUM_SNAPLEN). */
export const MAX_CAPTURE_LENGTH = 262_144;
/** Largest Interface Description Block buffered (options included). */
export const MAX_IDB_BYTES = 65_536;
/** Largest packet block buffered: header, largest packet, up to 64 KiB of options. */
export const MAX_PACKET_BLOCK_BYTES = 32 + MAX_CAPTURE_LENGTH + 65_536;
/** Most interfaces accepted in one section. */
export const MAX_INTERFACES = 65_536;
