/**
 * What the capture reader hands out: one reused record per packet, and its counters.
 *
 * Owns: the shapes only. Never: holds packet bytes beyond the callback that receives them.
 */
import type { SpoolRecordView } from '../../schemas/spool.ts';

/**
 * One captured packet: the fields a spool record carries (schemas/spool.ts), without the
 * record kind. The object is reused; `data` is a view valid only during the callback.
 * `linkType` is the pcap LINKTYPE_* of the packet's interface; `ifIndex` the interface id
 * within its pcapng section (0 for classic pcap).
 */
export type CaptureRecord = Omit<SpoolRecordView, 'kind' | 'flags'>;

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
