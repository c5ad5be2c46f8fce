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

export type ColumnKind = 'timestamp' | 'u8' | 'u16' | 'u64' | 'string';

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

function col(
  name: string,
  kind: ColumnKind,
  anonClass: AnonClass,
  description: string,
  opts: { queryable?: boolean; nullable?: boolean; derivedFrom?: string } = {},
): ColumnDef {
  const duckdbType = { timestamp: 'TIMESTAMP', u8: 'UTINYINT', u16: 'USMALLINT', u64: 'UBIGINT', string: 'VARCHAR' }[kind];
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
  col('end_reason', 'string', AnonClass.Plain, 'Why the flow record ended: idle, active, fin, rst, eof.'),
  col('dns_qname', 'string', AnonClass.Name, 'First DNS query name seen in the flow (anonymized).', { nullable: true }),
  col('tls_sni', 'string', AnonClass.Name, 'TLS ClientHello server name (anonymized).', { nullable: true }),
  col('http_host', 'string', AnonClass.Name, 'HTTP/1.x Host header (anonymized).', { nullable: true }),
] as const satisfies readonly ColumnDef[];

export type FlowColumnName = (typeof FLOW_COLUMNS)[number]['name'];
export const FLOW_COLUMN_NAMES: readonly FlowColumnName[] = FLOW_COLUMNS.map((c) => c.name);
export const columnByName: ReadonlyMap<string, ColumnDef> = new Map(FLOW_COLUMNS.map((c) => [c.name, c]));

/** Hive partition columns added by the archive layout (`date=YYYY-MM-DD/hour=HH`). */
export const PARTITION_COLUMNS = ['date', 'hour'] as const;

/** Bumped whenever FLOW_COLUMNS changes; recorded in every Parquet file and manifest. */
export const SCHEMA_VERSION = 1;

/** End reasons (`end_reason`). */
export const EndReason = { Idle: 'idle', Active: 'active', Fin: 'fin', Rst: 'rst', Eof: 'eof' } as const;
export type EndReason = (typeof EndReason)[keyof typeof EndReason];

/** A flow record as returned to API clients (JSON; UBIGINT as number when safe). */
export const FlowRecordOut = z.object({
  time_start: z.string(),
  time_end: z.string(),
  ip_version: z.number().int(),
  protocol: z.number().int(),
  src_addr: z.string(),
  dst_addr: z.string(),
  src_port: z.number().int(),
  dst_port: z.number().int(),
  icmp_type: z.number().int().nullable(),
  icmp_code: z.number().int().nullable(),
  vlan_id: z.number().int().nullable(),
  src_mac: z.string().nullable(),
  dst_mac: z.string().nullable(),
  packets_fwd: z.number(),
  bytes_fwd: z.number(),
  packets_rev: z.number(),
  bytes_rev: z.number(),
  tcp_flags_fwd: z.number().int(),
  tcp_flags_rev: z.number().int(),
  end_reason: z.enum(['idle', 'active', 'fin', 'rst', 'eof']),
  dns_qname: z.string().nullable(),
  tls_sni: z.string().nullable(),
  http_host: z.string().nullable(),
}).partial();
export type FlowRecordOut = z.infer<typeof FlowRecordOut>;
