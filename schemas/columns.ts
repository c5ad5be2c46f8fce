/**
 * The flow record: the single column table every component reads (akvorado's schema idea).
 *
 * Owns: column names, their zod type (as seen by API clients, after anonymization), DuckDB /
 * Parquet type, anonymization class (what the policy may do with it), and whether users may
 * filter/group on it. The Parquet writer, the query compiler, the OpenAPI document and the
 * policy checker all derive from this table; nobody redefines a column by hand.
 *
 * Direction follows RFC 5103 bidirectional flows: `src_*` is the initiator (first packet seen),
 * `dst_*` the responder; `*_fwd` counters are initiator→responder, `*_rev` the reverse.
 * Byte counters are IP-layer bytes (IP total length / IPv6 payload length + 40), as NetFlow's
 * octetDeltaCount, not link-layer frame bytes.
 *
 * Addresses are stored three ways: text (`src_addr`) for display and any Parquet reader, and
 * the 128-bit value as two UBIGINT halves (`src_addr_hi`, `src_addr_lo`; IPv4 as
 * IPv4-mapped ::ffff:a.b.c.d) so CIDR filters compile to integer range predicates that
 * row-group statistics can prune. The halves are derived from the anonymized address.
 *
 * Rows come from two flow producers (`record_source`): the packet path (`packets`: flows the
 * processor assembled itself) and router export (`netflow5`, `netflow9`, `ipfix`: one archive
 * row per exported record, never re-assembled). The export-only columns (exporter, observation
 * domain, interfaces, next hops, AS numbers, ToS, sampling) are NULL on packet rows; export rows
 * carry NULL for what their exporter did not send (MACs, names, ICMP fields, end reason).
 */
import { z } from 'zod';

/** What a policy may do to a column (see schemas/policy.ts). */
export const AnonClass = {
  /** An IPv4/IPv6 address: prefix-preserving and other address methods. */
  Address: 'address',
  /** Derived from an address column (its integer halves): follows that column. */
  AddressPart: 'address-part',
  Mac: 'mac',
  Name: 'name',
  Port: 'port',
  Time: 'time',
  Size: 'size',
  /** Not identifying on its own (protocol, flags, end reason): keep or drop. */
  Plain: 'plain',
} as const;
export type AnonClass = (typeof AnonClass)[keyof typeof AnonClass];

export type ColumnKind = 'timestamp' | 'u8' | 'u16' | 'u32' | 'u64' | 'string';

export interface ColumnDef {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly duckdbType: string;
  readonly anonClass: AnonClass;
  /** Users may filter and group on it. */
  readonly queryable: boolean;
  /** May be NULL (field absent for this flow). */
  readonly nullable: boolean;
  /** For address parts: the address column they derive from. */
  readonly derivedFrom?: string;
  readonly description: string;
}

/** A column definition keeping its name and class as literal types (FlowColumnName, ClassOfColumn). */
export type TypedColumnDef<N extends string, C extends AnonClass> = ColumnDef & { readonly name: N; readonly anonClass: C };

function col<const N extends string, const C extends AnonClass>(
  name: N,
  kind: ColumnKind,
  anonClass: C,
  description: string,
  opts: { queryable?: boolean; nullable?: boolean; derivedFrom?: string } = {},
): TypedColumnDef<N, C> {
  const duckdbType = { timestamp: 'TIMESTAMP', u8: 'UTINYINT', u16: 'USMALLINT', u32: 'UINTEGER', u64: 'UBIGINT', string: 'VARCHAR' }[kind];
  return {
    name,
    kind,
    duckdbType,
    anonClass,
    queryable: opts.queryable ?? true,
    nullable: opts.nullable ?? false,
    ...(opts.derivedFrom ? { derivedFrom: opts.derivedFrom } : {}),
    description,
  };
}

/** Column order is the Parquet column order. Bump SCHEMA_VERSION on any change. */
export const FLOW_COLUMNS = [
  col('time_start', 'timestamp', AnonClass.Time, 'First packet of the flow (UTC, microseconds).'),
  col('time_end', 'timestamp', AnonClass.Time, 'Last packet of the flow (UTC, microseconds).'),
  col('ip_version', 'u8', AnonClass.Plain, 'IP version, 4 or 6.'),
  col('protocol', 'u8', AnonClass.Plain, 'IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).'),
  col('src_addr', 'string', AnonClass.Address, 'Initiator address (anonymized), text form.'),
  col('src_addr_hi', 'u64', AnonClass.AddressPart, 'High 64 bits of the anonymized initiator address (IPv4 as ::ffff:0:0/96).', { derivedFrom: 'src_addr', queryable: false, nullable: true }),
  col('src_addr_lo', 'u64', AnonClass.AddressPart, 'Low 64 bits of the anonymized initiator address.', { derivedFrom: 'src_addr', queryable: false, nullable: true }),
  col('dst_addr', 'string', AnonClass.Address, 'Responder address (anonymized), text form.'),
  col('dst_addr_hi', 'u64', AnonClass.AddressPart, 'High 64 bits of the anonymized responder address.', { derivedFrom: 'dst_addr', queryable: false, nullable: true }),
  col('dst_addr_lo', 'u64', AnonClass.AddressPart, 'Low 64 bits of the anonymized responder address.', { derivedFrom: 'dst_addr', queryable: false, nullable: true }),
  col('src_port', 'u16', AnonClass.Port, 'Initiator transport port (0 when the protocol has none).'),
  col('dst_port', 'u16', AnonClass.Port, 'Responder transport port (0 when the protocol has none).'),
  col('icmp_type', 'u8', AnonClass.Plain, 'ICMP/ICMPv6 type of the first packet.', { nullable: true }),
  col('icmp_code', 'u8', AnonClass.Plain, 'ICMP/ICMPv6 code of the first packet.', { nullable: true }),
  col('vlan_id', 'u16', AnonClass.Plain, 'Outer 802.1Q VLAN id.', { nullable: true }),
  col('src_mac', 'string', AnonClass.Mac, 'Initiator MAC address (anonymized).', { nullable: true }),
  col('dst_mac', 'string', AnonClass.Mac, 'Responder MAC address (anonymized).', { nullable: true }),
  col('packets_fwd', 'u64', AnonClass.Size, 'Packets initiator → responder.'),
  col('bytes_fwd', 'u64', AnonClass.Size, 'IP-layer bytes initiator → responder.'),
  col('packets_rev', 'u64', AnonClass.Size, 'Packets responder → initiator.'),
  col('bytes_rev', 'u64', AnonClass.Size, 'IP-layer bytes responder → initiator.'),
  col('tcp_flags_fwd', 'u8', AnonClass.Plain, 'Union of TCP flags initiator → responder (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128).'),
  col('tcp_flags_rev', 'u8', AnonClass.Plain, 'Union of TCP flags responder → initiator.'),
  col('end_reason', 'string', AnonClass.Plain, 'Why the flow record ended: idle, active, fin, rst, eof (export rows: from flowEndReason, NULL when the exporter sent none).', { nullable: true }),
  col('dns_qname', 'string', AnonClass.Name, 'First DNS query name seen in the flow (anonymized).', { nullable: true }),
  col('tls_sni', 'string', AnonClass.Name, 'TLS ClientHello server name (anonymized).', { nullable: true }),
  col('http_host', 'string', AnonClass.Name, 'HTTP/1.x Host header (anonymized).', { nullable: true }),
  // Since schema version 2: where the row came from, and what routers export.
  col('record_source', 'string', AnonClass.Plain, 'Where the row came from: packets (assembled from captured packets), netflow5, netflow9 or ipfix (one exported record).', { nullable: true }),
  col('exporter_addr', 'string', AnonClass.Address, 'Exporter (router) address of an exported record (anonymized like src_addr/dst_addr); NULL for packets.', { nullable: true }),
  col('exporter_addr_hi', 'u64', AnonClass.AddressPart, 'High 64 bits of the anonymized exporter address.', { derivedFrom: 'exporter_addr', queryable: false, nullable: true }),
  col('exporter_addr_lo', 'u64', AnonClass.AddressPart, 'Low 64 bits of the anonymized exporter address.', { derivedFrom: 'exporter_addr', queryable: false, nullable: true }),
  col('observation_domain', 'u32', AnonClass.Plain, 'IPFIX observation domain id, NetFlow v9 source id, NetFlow v5 engine type << 8 | engine id.', { nullable: true }),
  col('input_interface', 'u32', AnonClass.Plain, 'Input interface (SNMP ifIndex, IPFIX ingressInterface 10).', { nullable: true }),
  col('output_interface', 'u32', AnonClass.Plain, 'Output interface (SNMP ifIndex, IPFIX egressInterface 14).', { nullable: true }),
  col('next_hop_addr', 'string', AnonClass.Address, 'IP next hop (IPFIX 15/62, anonymized like src_addr/dst_addr).', { nullable: true }),
  col('next_hop_addr_hi', 'u64', AnonClass.AddressPart, 'High 64 bits of the anonymized next hop.', { derivedFrom: 'next_hop_addr', queryable: false, nullable: true }),
  col('next_hop_addr_lo', 'u64', AnonClass.AddressPart, 'Low 64 bits of the anonymized next hop.', { derivedFrom: 'next_hop_addr', queryable: false, nullable: true }),
  col('bgp_next_hop_addr', 'string', AnonClass.Address, 'BGP next hop (IPFIX 18/63, anonymized like src_addr/dst_addr).', { nullable: true }),
  col('bgp_next_hop_addr_hi', 'u64', AnonClass.AddressPart, 'High 64 bits of the anonymized BGP next hop.', { derivedFrom: 'bgp_next_hop_addr', queryable: false, nullable: true }),
  col('bgp_next_hop_addr_lo', 'u64', AnonClass.AddressPart, 'Low 64 bits of the anonymized BGP next hop.', { derivedFrom: 'bgp_next_hop_addr', queryable: false, nullable: true }),
  col('src_as', 'u32', AnonClass.Plain, 'Source BGP AS number (IPFIX bgpSourceAsNumber 16).', { nullable: true }),
  col('dst_as', 'u32', AnonClass.Plain, 'Destination BGP AS number (IPFIX bgpDestinationAsNumber 17).', { nullable: true }),
  col('tos', 'u8', AnonClass.Plain, 'IP ToS / traffic class byte as exported (IPFIX ipClassOfService 5).', { nullable: true }),
  col('sampling_interval', 'u32', AnonClass.Plain, 'Exporter packet sampling, 1 in N (1 unsampled); packets and bytes are already multiplied by it. A fractional PSAMP rate is rounded here.', { nullable: true }),
  // Since schema version 3: the outermost tunnel a packet flow came through (policy `tunnels: inner`).
  col('tunnel_type', 'string', AnonClass.Plain, 'Outermost tunnel the flow\'s packets came through: ipip, 6in4, gre, erspan, vxlan, geneve; NULL when none (or when the policy counts tunnelled packets as their outer flow).', { nullable: true }),
  col('tunnel_src_addr', 'string', AnonClass.Address, 'Tunnel endpoint on the initiator\'s side (outer source of its first tunnelled packet; anonymized like src_addr/dst_addr).', { nullable: true }),
  col('tunnel_src_addr_hi', 'u64', AnonClass.AddressPart, 'High 64 bits of the anonymized initiator-side tunnel endpoint.', { derivedFrom: 'tunnel_src_addr', queryable: false, nullable: true }),
  col('tunnel_src_addr_lo', 'u64', AnonClass.AddressPart, 'Low 64 bits of the anonymized initiator-side tunnel endpoint.', { derivedFrom: 'tunnel_src_addr', queryable: false, nullable: true }),
  col('tunnel_dst_addr', 'string', AnonClass.Address, 'Tunnel endpoint on the responder\'s side (anonymized like src_addr/dst_addr).', { nullable: true }),
  col('tunnel_dst_addr_hi', 'u64', AnonClass.AddressPart, 'High 64 bits of the anonymized responder-side tunnel endpoint.', { derivedFrom: 'tunnel_dst_addr', queryable: false, nullable: true }),
  col('tunnel_dst_addr_lo', 'u64', AnonClass.AddressPart, 'Low 64 bits of the anonymized responder-side tunnel endpoint.', { derivedFrom: 'tunnel_dst_addr', queryable: false, nullable: true }),
] as const satisfies readonly ColumnDef[];

export type FlowColumnName = (typeof FLOW_COLUMNS)[number]['name'];
/** The anonymization class of column `K`, as a literal type (the anonymizer's table is checked against it). */
export type ClassOfColumn<K extends FlowColumnName> = Extract<(typeof FLOW_COLUMNS)[number], { readonly name: K }>['anonClass'];
export const FLOW_COLUMN_NAMES: readonly FlowColumnName[] = FLOW_COLUMNS.map((c) => c.name);
export const columnByName: ReadonlyMap<string, ColumnDef> = new Map(FLOW_COLUMNS.map((c) => [c.name, c]));

/** Hive partition columns added by the archive layout (`date=YYYY-MM-DD/hour=HH`). */
export const PARTITION_COLUMNS = ['date', 'hour'] as const;

/** Bumped whenever FLOW_COLUMNS changes; recorded in every Parquet file and manifest. */
export const SCHEMA_VERSION = 3;

/**
 * Schema versions, newest last. 1: the packet columns. 2: record_source and the export columns
 * (exporter_addr[_hi/_lo], observation_domain, input_interface, output_interface,
 * next_hop_addr[_hi/_lo], bgp_next_hop_addr[_hi/_lo], src_as, dst_as, tos, sampling_interval);
 * end_reason nullable. 3: tunnel_type, tunnel_src_addr[_hi/_lo], tunnel_dst_addr[_hi/_lo].
 * Files of older versions read the columns they lack as NULL.
 */
export const SCHEMA_VERSIONS = [1, 2, 3] as const;

/** End reasons (`end_reason`). */
export const EndReason = { Idle: 'idle', Active: 'active', Fin: 'fin', Rst: 'rst', Eof: 'eof' } as const;
export type EndReason = (typeof EndReason)[keyof typeof EndReason];

/** Record sources (`record_source`). */
export const RecordSource = { Packets: 'packets', Netflow5: 'netflow5', Netflow9: 'netflow9', Ipfix: 'ipfix' } as const;
export type RecordSource = (typeof RecordSource)[keyof typeof RecordSource];

/**
 * Tunnel types (`tunnel_type`), indexed by the decoder's `TunnelType` value (index 0: none).
 * Protocol 4 is `ipip` and protocol 41 `6in4` whatever the outer IP version.
 */
export const TUNNEL_TYPES = [null, 'ipip', '6in4', 'gre', 'erspan', 'vxlan', 'geneve'] as const;
export type TunnelTypeName = Exclude<(typeof TUNNEL_TYPES)[number], null>;

/** The JSON value of a column kind as API clients see it (UBIGINT as number when safe). */
function outType(c: ColumnDef): z.ZodType {
  const base = c.name === 'end_reason' ? z.enum(Object.values(EndReason))
    : c.name === 'record_source' ? z.enum(Object.values(RecordSource))
      : c.kind === 'string' || c.kind === 'timestamp' ? z.string()
        : c.kind === 'u64' ? z.number() : z.number().int();
  return c.nullable ? base.nullable() : base;
}

/** A flow record as returned to API clients (JSON), derived from FLOW_COLUMNS (address halves are internal). */
export const FlowRecordOut = z.object(
  Object.fromEntries(FLOW_COLUMNS.filter((c) => !('derivedFrom' in c)).map((c) => [c.name, outType(c)])),
).partial();
export type FlowRecordOut = Partial<Record<FlowColumnName, string | number | null>>;
