/**
 * Where every archive column's raw value comes from in a `RawFlow`: one entry per column of
 * schemas/columns.ts, checked by the compiler. The table is a mapped type over FlowColumnName, so
 * a column without an entry (or an entry for a column that does not exist) fails to compile, and
 * each entry is tagged with its column's anonymization class (`ClassOfColumn`), so an address
 * column cannot be given a port getter, a size column a time getter, and so on. The anonymizer
 * (flow-anonymizer.ts) compiles the policy against this table and nothing else: no name
 * switches, no default branch that could hand one column another column's value.
 *
 * Owns: the RawFlow field → column correspondence. Never: transforms values (the anonymizer
 * does), holds state, or does IO.
 */
import { AnonClass, FLOW_COLUMNS, TUNNEL_TYPES, type ClassOfColumn, type FlowColumnName } from '../../schemas/columns.ts';
import type { RawFlow } from '../flows/flow-record.ts';

type Get<T> = (r: RawFlow) => T;

/** An address a flow may carry: its version (0 = absent) and both representations. */
export interface AddressSource {
  readonly version: Get<0 | 4 | 6>;
  readonly v4: Get<number>;
  readonly v6: Get<Uint32Array>;
}

/** Columns of class Address (literal union). */
export type AddressColumn = { [K in FlowColumnName]: ClassOfColumn<K> extends typeof AnonClass.Address ? K : never }[FlowColumnName];

/** What an entry of each anonymization class provides. */
export interface SourceByClass {
  [AnonClass.Address]: { readonly cls: typeof AnonClass.Address; readonly address: AddressSource };
  [AnonClass.AddressPart]: { readonly cls: typeof AnonClass.AddressPart; readonly of: AddressColumn; readonly half: 'hi' | 'lo' };
  [AnonClass.Mac]: {
    readonly cls: typeof AnonClass.Mac;
    /** 24-bit OUI and NIC halves, -1 when absent. */
    readonly hi: Get<number>;
    readonly lo: Get<number>;
    /** The address column of the same side (a group MAC is derived from it: group-macs.ts). */
    readonly side: AddressColumn;
    /** Low 32 bits of that side's raw address. */
    readonly rawLow32: Get<number>;
  };
  [AnonClass.Name]: { readonly cls: typeof AnonClass.Name; readonly get: Get<string | null> };
  [AnonClass.Port]: { readonly cls: typeof AnonClass.Port; readonly get: Get<number> };
  [AnonClass.Time]: { readonly cls: typeof AnonClass.Time; readonly get: Get<number> };
  [AnonClass.Size]: { readonly cls: typeof AnonClass.Size; readonly get: Get<number> };
  /** A number (negative = absent → NULL), a string, or null. */
  [AnonClass.Plain]: { readonly cls: typeof AnonClass.Plain; readonly get: Get<number | string | null> };
}

export type ColumnSource<K extends FlowColumnName> = SourceByClass[ClassOfColumn<K>];
export type AnyColumnSource = SourceByClass[keyof SourceByClass];

const addr = (address: AddressSource) => ({ cls: AnonClass.Address, address }) as const;
const part = (of: AddressColumn, half: 'hi' | 'lo') => ({ cls: AnonClass.AddressPart, of, half }) as const;
const time = (get: Get<number>) => ({ cls: AnonClass.Time, get }) as const;
const port = (get: Get<number>) => ({ cls: AnonClass.Port, get }) as const;
const size = (get: Get<number>) => ({ cls: AnonClass.Size, get }) as const;
const name = (get: Get<string | null>) => ({ cls: AnonClass.Name, get }) as const;
const plain = (get: Get<number | string | null>) => ({ cls: AnonClass.Plain, get }) as const;

/** The whole table. */
export const COLUMN_SOURCES: { readonly [K in FlowColumnName]: ColumnSource<K> } = {
  time_start: time((r) => r.timeStartUs),
  time_end: time((r) => r.timeEndUs),
  ip_version: plain((r) => r.ipVersion),
  protocol: plain((r) => r.protocol),
  src_addr: addr({ version: (r) => r.ipVersion, v4: (r) => r.srcV4, v6: (r) => r.src6 }),
  src_addr_hi: part('src_addr', 'hi'),
  src_addr_lo: part('src_addr', 'lo'),
  dst_addr: addr({ version: (r) => r.ipVersion, v4: (r) => r.dstV4, v6: (r) => r.dst6 }),
  dst_addr_hi: part('dst_addr', 'hi'),
  dst_addr_lo: part('dst_addr', 'lo'),
  src_port: port((r) => r.srcPort),
  dst_port: port((r) => r.dstPort),
  icmp_type: plain((r) => r.icmpType),
  icmp_code: plain((r) => r.icmpCode),
  vlan_id: plain((r) => r.vlanId),
  src_mac: { cls: AnonClass.Mac, hi: (r) => r.srcMacHi, lo: (r) => r.srcMacLo, side: 'src_addr', rawLow32: (r) => (r.ipVersion === 4 ? r.srcV4 : r.src6[3]) },
  dst_mac: { cls: AnonClass.Mac, hi: (r) => r.dstMacHi, lo: (r) => r.dstMacLo, side: 'dst_addr', rawLow32: (r) => (r.ipVersion === 4 ? r.dstV4 : r.dst6[3]) },
  packets_fwd: size((r) => r.packetsFwd),
  bytes_fwd: size((r) => r.bytesFwd),
  packets_rev: size((r) => r.packetsRev),
  bytes_rev: size((r) => r.bytesRev),
  tcp_flags_fwd: plain((r) => r.tcpFlagsFwd),
  tcp_flags_rev: plain((r) => r.tcpFlagsRev),
  end_reason: plain((r) => r.endReason),
  dns_qname: name((r) => r.dnsQname),
  tls_sni: name((r) => r.tlsSni),
  http_host: name((r) => r.httpHost),
  record_source: plain((r) => r.recordSource),
  exporter_addr: addr({ version: (r) => r.exporterVersion, v4: (r) => r.exporterV4, v6: (r) => r.exporter6 }),
  exporter_addr_hi: part('exporter_addr', 'hi'),
  exporter_addr_lo: part('exporter_addr', 'lo'),
  observation_domain: plain((r) => r.observationDomain),
  input_interface: plain((r) => r.inputInterface),
  output_interface: plain((r) => r.outputInterface),
  next_hop_addr: addr({ version: (r) => r.nextHopVersion, v4: (r) => r.nextHopV4, v6: (r) => r.nextHop6 }),
  next_hop_addr_hi: part('next_hop_addr', 'hi'),
  next_hop_addr_lo: part('next_hop_addr', 'lo'),
  bgp_next_hop_addr: addr({ version: (r) => r.bgpNextHopVersion, v4: (r) => r.bgpNextHopV4, v6: (r) => r.bgpNextHop6 }),
  bgp_next_hop_addr_hi: part('bgp_next_hop_addr', 'hi'),
  bgp_next_hop_addr_lo: part('bgp_next_hop_addr', 'lo'),
  src_as: plain((r) => r.srcAs),
  dst_as: plain((r) => r.dstAs),
  tos: plain((r) => r.tos),
  // The column is an integer rate; packets and bytes carry the exact (possibly fractional) one.
  sampling_interval: plain((r) => (r.samplingInterval < 0 ? -1 : Math.max(1, Math.round(r.samplingInterval)))),
  tunnel_type: plain((r) => TUNNEL_TYPES[r.tunnelType] ?? null),
  // Tunnel endpoints are addresses of the same network: the same map as src/dst (one domain).
  tunnel_src_addr: addr({ version: (r) => r.tunnelVersion, v4: (r) => r.tunnelSrcV4, v6: (r) => r.tunnelSrc6 }),
  tunnel_src_addr_hi: part('tunnel_src_addr', 'hi'),
  tunnel_src_addr_lo: part('tunnel_src_addr', 'lo'),
  tunnel_dst_addr: addr({ version: (r) => r.tunnelVersion, v4: (r) => r.tunnelDstV4, v6: (r) => r.tunnelDst6 }),
  tunnel_dst_addr_hi: part('tunnel_dst_addr', 'hi'),
  tunnel_dst_addr_lo: part('tunnel_dst_addr', 'lo'),
};

/**
 * The entry of `column`, checked once against the column table at anonymizer construction
 * (class and, for address parts, the column they derive from).
 * @throws TypeError when the table and schemas/columns.ts disagree (a programmer error).
 */
export function columnSource(column: FlowColumnName): AnyColumnSource {
  const def = FLOW_COLUMNS.find((c) => c.name === column);
  const src = COLUMN_SOURCES[column] as AnyColumnSource;
  if (def === undefined || src === undefined || src.cls !== def.anonClass) throw new TypeError(`column-sources: ${column} does not match the column table`);
  if (src.cls === AnonClass.AddressPart && src.of !== def.derivedFrom) throw new TypeError(`column-sources: ${column} derives from ${def.derivedFrom}`);
  return src;
}
