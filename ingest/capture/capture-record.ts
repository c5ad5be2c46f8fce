/**
 * What the capture reader hands out: one reused record per packet, and its counters.
 *
 * Owns: the shapes only. Never: holds packet bytes beyond the callback that receives them.
 */

/** One captured packet. The object is reused; `data` is a view valid only during the callback. */
export interface CaptureRecord {
  /** pcap LINKTYPE_* of the packet's interface. */
  linkType: number;
  /** Interface id within its pcapng section (0 for classic pcap). */
  ifIndex: number;
  tsSec: number;
  tsNsec: number;
  origLen: number;
  capLen: number;
  data: Uint8Array;
}

export type CaptureFormat = 'pcap' | 'pcapng';

/** Counters, readable at any time. */
export interface CaptureStats {
  records: number;
  /** Simple Packet Blocks seen (they carry no timestamp: the last one seen is reused). */
  simplePacketBlocks: number;
  /** Blocks skipped by length (name resolution, statistics, secrets, custom, unknown). */
  skippedBlocks: number;
  sections: number;
  interfaces: number;
}
