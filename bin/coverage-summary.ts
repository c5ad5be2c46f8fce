/**
 * How much of a packet capture became flows, from a run's manifest counts: `flowseal pipeline`
 * prints it on stderr when more than `COVERAGE_THRESHOLD` of the packets were not turned into
 * flows, and `--strict` then exits with `EXIT_INCOMPLETE`.
 *
 * Owns: reading the decode counters out of the flat manifest counts (`linktype_<Type>`,
 * `linktype_<Type>_drop_<Reason>`, `flowtable_packets`) and the wording of the summary.
 * Never: reads anything but counts (no addresses, no names), does IO.
 */

/** Fraction of packets not turned into flows above which the summary is printed. */
export const COVERAGE_THRESHOLD = 0.01;

/** Exit code of `pipeline --strict` when the capture was not fully turned into flows. */
export const EXIT_INCOMPLETE = 4;

/** What each drop reason means, for people reading the summary. */
const REASON_TEXT: Record<string, string> = {
  NotIp: 'frames without IP (ARP, LLDP, PPP/PPPoE control, SLARP, ...)',
  UnsupportedLinkType: 'link type not decoded',
  UnsupportedEncapsulation: 'encapsulation not opened (802.11 inside PPI, unknown MPLS payload, ...)',
  BadEncapsulation: 'PPP/HDLC/Frame Relay/NFLOG/PPI/PPPoE/MPLS/tunnel header cut short or malformed',
  TooManyEncapsulations: 'more nested encapsulations than the decoder follows',
  LinkTruncated: 'link-layer header cut short',
  BadIpVersion: 'IP version disagrees with the link layer',
  BadIpv4Header: 'invalid IPv4 header',
  IpTruncated: 'IP header cut short',
  TooManyExtHeaders: 'too many IPv6 extension headers',
  BadIpv6ExtHeader: 'bad IPv6 extension header',
  TransportTruncated: 'TCP/UDP/ICMP header cut short',
  BadTcpHeader: 'invalid TCP header',
};

export interface CoverageSummary {
  packets: number;
  /** Packets that did not reach the flow table. */
  notInFlows: number;
  /** True when `notInFlows / packets` exceeds the threshold. */
  incomplete: boolean;
  /** Readable lines (empty when complete). */
  lines: string[];
}

/**
 * Summarizes one run from its (last part's) manifest counts. A run without packet records
 * (NetFlow/IPFIX export) is complete by definition here.
 */
export function coverageSummary(run: string, counts: Readonly<Record<string, number>>): CoverageSummary {
  let packets = 0;
  const byLink = new Map<string, Array<[string, number]>>();
  for (const [key, n] of Object.entries(counts)) {
    const m = /^linktype_([A-Za-z0-9]+)(?:_drop_([A-Za-z0-9]+))?$/.exec(key);
    if (!m) continue;
    if (m[2] === undefined) packets += n;
    else {
      const list = byLink.get(m[1]!) ?? [];
      list.push([m[2], n]);
      byLink.set(m[1]!, list);
    }
  }
  const inFlows = counts.flowtable_packets ?? 0;
  const notInFlows = Math.max(0, packets - inFlows);
  const incomplete = packets > 0 && notInFlows / packets > COVERAGE_THRESHOLD;
  if (!incomplete) return { packets, notInFlows, incomplete, lines: [] };
  const pct = ((100 * notInFlows) / packets).toFixed(1);
  const lines = [`flowseal pipeline: run ${run}: ${notInFlows} of ${packets} packets (${pct} %) were not turned into flows:`];
  for (const [link, reasons] of [...byLink].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [reason, n] of reasons.sort((a, b) => b[1] - a[1])) {
      lines.push(`  ${link}: ${n} ${reason} — ${REASON_TEXT[reason] ?? 'see the decoder drop reasons'}`);
    }
  }
  const explained = [...byLink.values()].flat().reduce((a, [, n]) => a + n, 0);
  if (notInFlows > explained) lines.push(`  ${notInFlows - explained} decoded but without an IP layer the flow table could use`);
  lines.push('  (counted in the manifest as linktype_<Type>_drop_<Reason>; `--strict` makes this exit non-zero)');
  return { packets, notInFlows, incomplete, lines };
}
