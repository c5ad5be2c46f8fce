/**
 * The anonymization policy: what happens to each column of the flow record (by its
 * anonymization class in schemas/columns.ts), to special address ranges and to internal
 * networks, and where the master key comes from. Versioned (`version: 1`), JSON or YAML.
 *
 * Rules: a column the policy does not list is dropped (NULL), except that `time_start` and
 * `time_end` are required (the archive partitions by time; use shift/coarsen to hide it). Address-part columns
 * (`*_addr_hi/lo`) are never listed: they follow their address column and are NULL when its
 * method yields a non-address token (ipcrypt-nd/ndx) or drops it. Column specs accept a
 * shorthand string (`"keep"`) for `{ "method": "keep" }`.
 *
 * Owns: the schema, parsing (→ AppError PolicyInvalid with zod issue paths), the embedded
 * DEFAULT_POLICY and the canonical policy hash. Never echoes policy values that could be
 * addresses in error messages beyond the path and the rule broken.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalJson } from './canonical-json.ts';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parsePrefix, type ParsedPrefix } from './ip-address.ts';
import {
  forbiddenTargets, internalNetworkState, overlaps4, overlaps6, rangeActions, type Prefix4, type Prefix6,
} from './policy-ranges.ts';
import { AnonClass, FLOW_COLUMNS, type FlowColumnName } from './columns.ts';
import { AppError, ErrorCode } from './errors.ts';

/** Address methods (the draft-denis-ipcrypt family, Crypto-PAn, and simple ones). */
export const ADDRESS_METHODS = ['ipcrypt-pfx', 'cryptopan', 'ipcrypt-det', 'ipcrypt-nd', 'ipcrypt-ndx', 'truncate', 'black-marker', 'keep', 'drop'] as const;

const shorthand = (v: unknown): unknown => (typeof v === 'string' ? { method: v } : v);

export const AddressSpec = z.strictObject({
  method: z.enum(ADDRESS_METHODS),
  /** truncate: IPv4 prefix length kept (default 24). */
  prefixV4: z.int().min(0).max(32).optional(),
  /** truncate: IPv6 prefix length kept (default 48). */
  prefixV6: z.int().min(0).max(128).optional(),
});
export type AddressSpec = z.infer<typeof AddressSpec>;

export const MacSpec = z.strictObject({ method: z.enum(['mac', 'keep', 'black-marker', 'drop']) });
export type MacSpec = z.infer<typeof MacSpec>;

export const NameSpec = z.strictObject({
  method: z.enum(['name', 'keep', 'drop']),
  /** Public suffixes kept in clear, e.g. ["com", "ac.uk"]. */
  keepSuffixes: z.array(z.string().min(1).max(253).regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, 'must be dot-separated labels')).max(10000).optional(),
});
export type NameSpec = z.infer<typeof NameSpec>;

export const PortSpec = z.strictObject({
  method: z.enum(['keep', 'bin', 'black-marker', 'drop']),
  /** bin: keep 0–1023 as they are (default true). */
  keepWellKnown: z.boolean().optional(),
});
export type PortSpec = z.infer<typeof PortSpec>;

export const TimeSpec = z.strictObject({
  method: z.enum(['keep', 'shift', 'coarsen', 'drop']),
  /** shift: the secret offset is uniform in [1 s, maxDays days] (default 365). */
  maxDays: z.number().positive().max(36500).optional(),
  /** coarsen: precision in microseconds (default 1 000 000 = 1 s). */
  precisionUs: z.int().min(1).max(86_400_000_000).optional(),
});
export type TimeSpec = z.infer<typeof TimeSpec>;

export const SizeSpec = z.strictObject({ method: z.enum(['keep', 'bin', 'drop']) });
export type SizeSpec = z.infer<typeof SizeSpec>;

export const PlainSpec = z.strictObject({ method: z.enum(['keep', 'drop']) });
export type PlainSpec = z.infer<typeof PlainSpec>;

export type ColumnSpec = AddressSpec | MacSpec | NameSpec | PortSpec | TimeSpec | SizeSpec | PlainSpec;
export type PolicyColumns = Partial<Record<FlowColumnName, ColumnSpec>>;

const specByClass: Record<string, z.ZodType> = {
  [AnonClass.Address]: AddressSpec,
  [AnonClass.Mac]: MacSpec,
  [AnonClass.Name]: NameSpec,
  [AnonClass.Port]: PortSpec,
  [AnonClass.Time]: TimeSpec,
  [AnonClass.Size]: SizeSpec,
  [AnonClass.Plain]: PlainSpec,
};

const columnsShape: Record<string, z.ZodType> = {};
for (const c of FLOW_COLUMNS) {
  if (c.anonClass === AnonClass.AddressPart) continue;
  columnsShape[c.name] = z.preprocess(shorthand, specByClass[c.anonClass]).optional();
}
const PolicyColumnsSchema = z.strictObject(columnsShape) as unknown as z.ZodType<PolicyColumns>;

/** What to do with an address in a special range. */
export const RangeAction = z.enum(['keep', 'map', 'black-marker']);
export type RangeAction = z.infer<typeof RangeAction>;

export const SpecialRanges = z.strictObject({
  unspecified: RangeAction.optional(),
  loopback: RangeAction.optional(),
  private: RangeAction.optional(),
  cgnat: RangeAction.optional(),
  linkLocal: RangeAction.optional(),
  multicast: RangeAction.optional(),
  broadcast: RangeAction.optional(),
  documentation: RangeAction.optional(),
  ipv4Mapped: RangeAction.optional(),
});
export type SpecialRanges = z.infer<typeof SpecialRanges>;

const ipv4Prefix = z.string().max(18).refine((s) => parsePrefix(s)?.version === 4, 'must be an IPv4 prefix a.b.c.d/n');
const ipv6Prefix = z.string().max(49).refine((s) => parsePrefix(s)?.version === 6, 'must be an IPv6 prefix x:y::/n');
const ipPrefix = z.string().max(49).refine((s) => parsePrefix(s) !== null, 'must be an IPv4 prefix a.b.c.d/n or an IPv6 prefix x:y::/n');

export const InternalNetwork = z.strictObject({
  /** The internal prefix, e.g. 10.0.0.0/8 or 2001:db8:1234::/48. */
  prefix: ipPrefix,
  /** Where it maps: an unused prefix of the same family and length (default: allocated from internalTarget / internalTargetV6). */
  target: ipPrefix.optional(),
  /**
   * Subnet size inside the network (default 24 for IPv4, 64 for IPv6, or the prefix length if
   * longer). IPv6: subnet and host parts must each be at most 64 bits.
   */
  subnetPrefix: z.int().min(0).max(128).optional(),
  /** Keep host 1 (gateway: .1, ::1) as 1 (default false). Host 0 and all-ones are always kept. */
  preserveGateway: z.boolean().optional(),
});
export type InternalNetwork = z.infer<typeof InternalNetwork>;

export const KeySourceSpec = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('random') }),
  z.strictObject({ type: z.literal('stdin') }),
  z.strictObject({ type: z.literal('env'), name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }),
  z.strictObject({ type: z.literal('file'), path: z.string().min(1).max(4096) }),
]);
export type KeySourceSpec = z.infer<typeof KeySourceSpec>;

export const Policy = z
  .strictObject({
    version: z.literal(1),
    description: z.string().max(2000).optional(),
    columns: PolicyColumnsSchema,
    specialRanges: SpecialRanges.optional(),
    internalNetworks: z.array(InternalNetwork).max(256).optional(),
    /** Pool for IPv4 internal networks without an explicit target (default 240.0.0.0/4). */
    internalTarget: ipv4Prefix.optional(),
    /** Pool for IPv6 internal networks without an explicit target (default fec0::/10, see internal-networks.ts). */
    internalTargetV6: ipv6Prefix.optional(),
    keySource: KeySourceSpec.optional(),
    /**
     * What a tunnelled packet (GRE, ERSPAN, IP-in-IP, 6in4, VXLAN, Geneve) counts as: `inner`
     * (default) its inner flow, the outermost tunnel kept in tunnel_type / tunnel_src_addr /
     * tunnel_dst_addr; `outer` its outer flow (tunnels not opened, tunnel columns NULL).
     */
    tunnels: z.enum(['inner', 'outer']).optional(),
  })
  .superRefine((p, ctx) => {
    const cols = p.columns as Record<string, { method: string } | undefined>;
    for (const c of ['time_start', 'time_end']) {
      const m = cols[c]?.method;
      if (m === undefined || m === 'drop') {
        ctx.addIssue({ code: 'custom', path: ['columns', c], message: `${c} is required (keep, shift or coarsen): the archive partitions rows by time (date=/hour=)` });
      }
    }
    const nets = p.internalNetworks ?? [];
    const actions = rangeActions(p.specialRanges);
    const forbidden = forbiddenTargets(actions);
    nets.forEach((n, i) => {
      const pre = parsePrefix(n.prefix);
      const tgt = n.target === undefined ? null : parsePrefix(n.target);
      if (pre === null) return;
      if (tgt && tgt.version !== pre.version) {
        ctx.addIssue({ code: 'custom', path: ['internalNetworks', i, 'target'], message: 'target must be of the same address family as prefix' });
      } else if (tgt && pre.length !== tgt.length) {
        ctx.addIssue({ code: 'custom', path: ['internalNetworks', i, 'target'], message: 'target must have the same prefix length as prefix' });
      }
      const sp = n.subnetPrefix;
      if (sp !== undefined && sp < pre.length) {
        ctx.addIssue({ code: 'custom', path: ['internalNetworks', i, 'subnetPrefix'], message: 'subnetPrefix must not be shorter than prefix' });
      } else if (pre.version === 4 && sp !== undefined && sp > 32) {
        ctx.addIssue({ code: 'custom', path: ['internalNetworks', i, 'subnetPrefix'], message: 'subnetPrefix of an IPv4 network must be at most 32' });
      } else if (pre.version === 6) {
        const s6 = Math.max(pre.length, sp ?? 64);
        if (s6 - pre.length > 64 || 128 - s6 > 64) {
          ctx.addIssue({ code: 'custom', path: ['internalNetworks', i, 'subnetPrefix'], message: 'IPv6 subnet and host parts must each be at most 64 bits (subnetPrefix between prefix length and prefix length + 64, and at least 64)' });
        }
      }
      const net = toPrefix(pre);
      const state = internalNetworkState(net, actions);
      if (state === 'partial') {
        ctx.addIssue({ code: 'custom', path: ['internalNetworks', i, 'prefix'], message: 'straddles a special range the policy keeps or black-marks (or overlaps ::ffff:0:0/96 or 64:ff9b::/96): make it lie inside or outside it' });
      }
      if (tgt && tgt.version === pre.version && state === 'active') {
        const t = toPrefix(tgt);
        const bad = 'words' in t ? forbidden.v6.some((f) => overlaps6(f, t)) : forbidden.v4.some((f) => overlaps4(f, t));
        if (bad) ctx.addIssue({ code: 'custom', path: ['internalNetworks', i, 'target'], message: 'overlaps a special range the policy keeps, a black-marker value, ::ffff:0:0/96 or 64:ff9b::/96' });
      }
    });
    const all = [
      ...nets.map((n, i) => ({ p: n.prefix, path: ['internalNetworks', i, 'prefix'] })),
      ...nets.flatMap((n, i) => (n.target ? [{ p: n.target, path: ['internalNetworks', i, 'target'] }] : [])),
    ];
    for (let a = 0; a < all.length; a++) {
      for (let b = a + 1; b < all.length; b++) {
        if (prefixesOverlap(all[a].p, all[b].p)) {
          ctx.addIssue({ code: 'custom', path: all[b].path, message: `overlaps ${all[a].path.join('.')}` });
        }
      }
    }
  });
export type Policy = z.infer<typeof Policy>;

function toPrefix(p: ParsedPrefix): Prefix4 | Prefix6 {
  return p.version === 4 ? { value: p.v4, length: p.length } : { words: p.v6, length: p.length };
}

function prefixesOverlap(a: string, b: string): boolean {
  const x = parsePrefix(a);
  const y = parsePrefix(b);
  if (!x || !y || x.version !== y.version) return false;
  const px = toPrefix(x);
  const py = toPrefix(y);
  return 'words' in px ? overlaps6(px, py as Prefix6) : overlaps4(px, py as Prefix4);
}

/**
 * Parses and validates a policy document.
 * @param format 'json' or 'yaml'; default: JSON when the text starts with `{`, else YAML.
 * @throws AppError(PolicyInvalid) with `details.issues` = [{ path, message }].
 */
export function parsePolicy(text: string, format?: 'json' | 'yaml'): Policy {
  const fmt = format ?? (text.trimStart().startsWith('{') ? 'json' : 'yaml');
  let doc: unknown;
  try {
    doc = fmt === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    const msg = cause instanceof Error ? cause.message.split('\n')[0] : 'syntax error';
    throw new AppError(ErrorCode.PolicyInvalid, `policy is not valid ${fmt.toUpperCase()}: ${msg}`, { cause });
  }
  const r = Policy.safeParse(doc);
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
    throw new AppError(
      ErrorCode.PolicyInvalid,
      `policy invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      { details: { issues } },
    );
  }
  return r.data;
}


/**
 * The policy as it may be published (release notes, the hash below): internal prefixes are
 * replaced by their length and the key source by its type, so neither the operator's address
 * plan nor where its key lives can be read back.
 */
export function publishablePolicy(policy: Policy): Record<string, unknown> {
  const p = JSON.parse(JSON.stringify(policy)) as Record<string, unknown>;
  if (Array.isArray(p.internalNetworks)) {
    p.internalNetworks = (p.internalNetworks as Array<Record<string, unknown>>).map((n) => ({
      ...n,
      prefix: `<redacted>/${String(n.prefix).split('/')[1]}`,
    }));
  }
  if (p.keySource && typeof p.keySource === 'object') p.keySource = { type: (p.keySource as { type: string }).type };
  return p;
}

/**
 * Canonical policy hash: hex SHA-256 of the *publishable* policy as JSON with sorted keys.
 * It is published (manifests, Parquet metadata, the API), so it covers the redacted form: a
 * hash over raw internal prefixes could be brute-forced back to them (a /16 is 65,536 guesses).
 */
export function policyHash(policy: Policy): string {
  const d = sha256(new TextEncoder().encode(canonicalJson(publishablePolicy(policy))));
  let s = '';
  for (const b of d) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

/**
 * The embedded default: ipcrypt-pfx for addresses (data plane, exporter, next hops: one
 * domain), SIGCOMM-2008 MAC mapping, HMAC'd names keeping common public suffixes,
 * ports/times/sizes/plain kept (AS numbers, interfaces, ToS, sampling, record source included), multicast and broadcast kept
 * (bits a kept group derives from a host address are mapped: docs/POLICY.md), other special
 * ranges mapped, random in-memory key.
 */
export const DEFAULT_POLICY: Policy = Policy.parse({
  version: 1,
  description: 'flowseal default policy',
  columns: {
    time_start: 'keep',
    time_end: 'keep',
    ip_version: 'keep',
    protocol: 'keep',
    src_addr: 'ipcrypt-pfx',
    dst_addr: 'ipcrypt-pfx',
    src_port: 'keep',
    dst_port: 'keep',
    icmp_type: 'keep',
    icmp_code: 'keep',
    vlan_id: 'keep',
    src_mac: 'mac',
    dst_mac: 'mac',
    packets_fwd: 'keep',
    bytes_fwd: 'keep',
    packets_rev: 'keep',
    bytes_rev: 'keep',
    tcp_flags_fwd: 'keep',
    tcp_flags_rev: 'keep',
    end_reason: 'keep',
    dns_qname: { method: 'name', keepSuffixes: ['com', 'net', 'org', 'edu', 'gov', 'mil', 'int', 'arpa', 'in-addr.arpa', 'ip6.arpa', 'io', 'uk', 'co.uk', 'ac.uk', 'de', 'fr', 'nl', 'jp', 'cn', 'ru', 'br'] },
    tls_sni: { method: 'name', keepSuffixes: ['com', 'net', 'org', 'edu', 'gov', 'io', 'co.uk', 'ac.uk', 'de', 'fr', 'nl', 'jp'] },
    http_host: { method: 'name', keepSuffixes: ['com', 'net', 'org', 'edu', 'gov', 'io', 'co.uk', 'ac.uk', 'de', 'fr', 'nl', 'jp'] },
    record_source: 'keep',
    // Router addresses are addresses: the same prefix-preserving map as src/dst (one domain).
    exporter_addr: 'ipcrypt-pfx',
    next_hop_addr: 'ipcrypt-pfx',
    bgp_next_hop_addr: 'ipcrypt-pfx',
    observation_domain: 'keep',
    // Interface indexes describe the operator's router, not its users (like vlan_id): kept by
    // default; a policy that does not list them drops them.
    input_interface: 'keep',
    output_interface: 'keep',
    // AS numbers are public routing data: kept.
    src_as: 'keep',
    dst_as: 'keep',
    tos: 'keep',
    sampling_interval: 'keep',
    // Tunnel endpoints are addresses: the same prefix-preserving map as src/dst.
    tunnel_type: 'keep',
    tunnel_src_addr: 'ipcrypt-pfx',
    tunnel_dst_addr: 'ipcrypt-pfx',
  },
  specialRanges: { multicast: 'keep', broadcast: 'keep' },
  keySource: { type: 'random' },
});
