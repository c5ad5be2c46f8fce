/**
 * Decode diagnostics: packets and drops counted per reason and per link type (akvorado's
 * "count bad input by reason instead of failing").
 *
 * Owns: the counter struct and its JSON-safe snapshot. Counts only — never addresses,
 * names or bytes, so a snapshot may be logged or put in a manifest.
 */
import { DROP_REASON_COUNT, DropReason, LinkType } from './decoded-packet.ts';

/** Counters filled by `countDecode`. Index `byReason` with `-status` (1..DROP_REASON_COUNT). */
export interface DecodeCounters {
  packets: number;
  decoded: number;
  /** Drops per reason; index = -DropReason value (index 0 unused). */
  byReason: Float64Array;
  /** Packets and drops per pcap link type value, drops also per reason (index = -DropReason). */
  byLinkType: Map<number, LinkTypeCounters>;
}

/** One link type's counters. */
export interface LinkTypeCounters {
  packets: number;
  dropped: number;
  byReason: Float64Array;
}

export function newDecodeCounters(): DecodeCounters {
  return { packets: 0, decoded: 0, byReason: new Float64Array(DROP_REASON_COUNT + 1), byLinkType: new Map() };
}

/**
 * Counts one `decodePacket` result. Allocates only the first time a link type is seen.
 * @param status the value `decodePacket` returned (0 or a negative `DropReason`).
 */
export function countDecode(c: DecodeCounters, linkType: number, status: number): void {
  c.packets++;
  let perLink = c.byLinkType.get(linkType);
  if (perLink === undefined) {
    perLink = { packets: 0, dropped: 0, byReason: new Float64Array(DROP_REASON_COUNT + 1) };
    c.byLinkType.set(linkType, perLink);
  }
  perLink.packets++;
  if (status === 0) {
    c.decoded++;
    return;
  }
  perLink.dropped++;
  const index = -status;
  if (index > 0 && index <= DROP_REASON_COUNT) {
    c.byReason[index]++;
    perLink.byReason[index]++;
  }
}

const reasonNames = new Map<number, string>(Object.entries(DropReason).map(([name, value]) => [-value, name]));
const linkNames = new Map<number, string>(Object.entries(LinkType).map(([name, value]) => [value, name]));

function reasonsOf(byReason: Float64Array): Record<string, number> {
  const dropped: Record<string, number> = {};
  for (let i = 1; i <= DROP_REASON_COUNT; i++) if (byReason[i] > 0) dropped[reasonNames.get(i) ?? `reason${i}`] = byReason[i];
  return dropped;
}

/** Name of a pcap link type value as counters show it (`linktype<N>` for unknown ones). */
export function linkTypeName(type: number): string {
  return linkNames.get(type) ?? `linktype${type}`;
}

/** Plain-object view of the counters, keyed by reason and link-type names (non-zero drops only). */
export function decodeCountersSnapshot(c: DecodeCounters): {
  packets: number;
  decoded: number;
  dropped: Record<string, number>;
  byLinkType: Record<string, { packets: number; dropped: number; byReason: Record<string, number> }>;
} {
  const byLinkType: Record<string, { packets: number; dropped: number; byReason: Record<string, number> }> = {};
  for (const [type, v] of c.byLinkType) byLinkType[linkTypeName(type)] = { packets: v.packets, dropped: v.dropped, byReason: reasonsOf(v.byReason) };
  return { packets: c.packets, decoded: c.decoded, dropped: reasonsOf(c.byReason), byLinkType };
}
