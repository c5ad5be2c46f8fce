/**
 * Reserved outputs: the address ranges a mapped address must never land in, because the
 * policy puts something else there — kept special ranges (e.g. multicast 224/4 and ff00::/8,
 * 255.255.255.255 by default), the black-marker values (0.0.0.0, ::) when a range is
 * black-marked, the targets of internal networks, and in IPv6 ::ffff:0:0/96 (where IPv4
 * results live) and the NAT64 prefix 64:ff9b::/96 (where NAT64 addresses keep their prefix
 * around the IPv4 result of the address they embed, address-anonymizer.ts). Without this, 127.0.0.1 could map to 237.x and a reader could not tell a
 * kept multicast address from a mapped unicast one.
 *
 * How the prefix-preserving methods avoid them ("pinning"): ipcrypt-pfx and Crypto-PAn flip
 * each input bit by a keyed bit that depends on the prefix before it, i.e. one flip per node
 * of the binary prefix tree; the result is a tree automorphism. We force the flip to 0 on
 * every strict ancestor of a reserved prefix R. The map stays an automorphism (bijective,
 * and prefix-preserving exactly: cp(F(x), F(y)) = cp(x, y) for all x, y), and it maps every
 * R onto itself, so an address outside every R never lands in one. This is forced, not a
 * choice: when every input outside R is mapped, a full sibling subtree cannot map into a
 * partial one, so every prefix-preserving injection avoiding R fixes R's ancestors. The cost
 * is what a reader learns: cp(F(x), R) = cp(x, R), e.g. with the default policy the
 * class-A/B/C/E split (leading one bits up to the first zero) survives, as with tcpdpriv's
 * class-preserving option; with none of these ranges reserved the map is the plain primitive.
 * Since the pinned levels of one address are always a leading run (0..P), the hot paths take
 * a single "pinned level count" per address.
 *
 * Real inputs inside an internal target T (which should be unused: that is why it was chosen)
 * are not kept and not internal, yet F maps T onto T. They are redirected first: T·s is mapped
 * as N·s, where N is the internal network (whose own image F(N) no mapped input uses, because
 * N's addresses go to T instead). That stays injective and lands outside every R; only those
 * redirected addresses lose their prefix relation to the rest.
 *
 * ipcrypt-det (not prefix-preserving) cycle-walks instead: AES is a permutation of the
 * 128-bit space, re-encrypting while the result is reserved gives a bijection of the
 * complement onto itself (Black & Rogaway). Its reserved set is the 128-bit union (`wide`).
 *
 * Owns: computing the reserved set from a policy's range actions and internal networks, and
 * the membership / pinned-depth queries. Never logs, no IO.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { RangeAction } from '../../schemas/policy.ts';
import { maskV4, parsePrefix } from '../../schemas/ip-address.ts';
import { DEFAULT_RANGE_ACTIONS, RANGE_PREFIXES, SPECIAL_RANGE_KINDS } from './special-ranges.ts';

/** An IPv4 prefix: network value (host bits zero) and length. */
export interface Prefix4 {
  readonly value: number;
  readonly length: number;
}

/** An IPv6 prefix: four big-endian words (host bits zero) and length. */
export interface Prefix6 {
  readonly words: Uint32Array;
  readonly length: number;
}

/** An internal network and its target, IPv4. */
export interface InternalBlock4 {
  readonly network: number;
  readonly target: number;
  readonly length: number;
}

/** An internal network and its target, IPv6. */
export interface InternalBlock6 {
  readonly network: Uint32Array;
  readonly target: Uint32Array;
  readonly length: number;
}

/** The reserved outputs of one policy (see file comment). */
export interface ReservedOutputs {
  /** Pins of the IPv4 tree (pfx, Crypto-PAn). */
  readonly v4: readonly Prefix4[];
  /** Pins of the IPv6 tree (always includes ::ffff:0:0/96 and 64:ff9b::/96). */
  readonly v6: readonly Prefix6[];
  /** The 128-bit union for ipcrypt-det (IPv4 as ::ffff:a.b.c.d/96+n). */
  readonly wide: readonly Prefix6[];
  /** Active internal networks whose targets real inputs are redirected from. */
  readonly redirect4: readonly InternalBlock4[];
  readonly redirect6: readonly InternalBlock6[];
  /** Canonical text of the sets (methods built with the same set carry the same id). */
  readonly id: string;
}

/** No reservation at all (the bare primitives). */
export const NO_RESERVED: ReservedOutputs = { v4: [], v6: [], wide: [], redirect4: [], redirect6: [], id: '' };

const V4_SPACE: Prefix6 = { words: new Uint32Array([0, 0, 0xffff, 0]), length: 96 };
/** NAT64 well-known prefix (RFC 6052 §2.1): only NAT64 inputs map there (address-anonymizer.ts). */
const NAT64_SPACE: Prefix6 = { words: new Uint32Array([0x0064ff9b, 0, 0, 0]), length: 96 };

function p4(text: string): Prefix4 {
  const p = parsePrefix(text);
  if (p === null || p.version !== 4) throw new TypeError('bad built-in IPv4 prefix');
  return { value: p.v4, length: p.length };
}

function p6(text: string): Prefix6 {
  const p = parsePrefix(text);
  if (p === null || p.version !== 6) throw new TypeError('bad built-in IPv6 prefix');
  return { words: p.v6, length: p.length };
}

/** Number of leading equal bits of two u32s. */
export function commonPrefix32(a: number, b: number): number {
  const x = (a ^ b) >>> 0;
  return x === 0 ? 32 : Math.clz32(x);
}

/** Number of leading equal bits of two 4-word values. */
export function commonPrefix128(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < 4; i++) {
    const x = (a[i] ^ b[i]) >>> 0;
    if (x !== 0) return 32 * i + Math.clz32(x);
  }
  return 128;
}

/** True when `a` is inside `p`. */
export function inPrefix4(p: Prefix4, a: number): boolean {
  return ((a ^ p.value) & maskV4(p.length)) === 0;
}

/** True when `w` is inside `p`. */
export function inPrefix6(p: Prefix6, w: ArrayLike<number>): boolean {
  return commonPrefix128(w, p.words) >= p.length;
}

/** True when two prefixes of one family share an address. */
export function overlaps4(a: Prefix4, b: Prefix4): boolean {
  return commonPrefix32(a.value, b.value) >= Math.min(a.length, b.length);
}

export function overlaps6(a: Prefix6, b: Prefix6): boolean {
  return commonPrefix128(a.words, b.words) >= Math.min(a.length, b.length);
}

/**
 * How many leading tree levels are pinned (flip forced to 0) for `a`: levels 0..P-1, where
 * P = max over reserved R of min(cp(a, R), |R| - 1) + 1; 0 when nothing is reserved.
 */
export function pinnedLevelsV4(reserved: readonly Prefix4[], a: number): number {
  let p = 0;
  for (let i = 0; i < reserved.length; i++) {
    const r = reserved[i];
    if (r.length === 0) continue;
    const d = Math.min(commonPrefix32(a, r.value), r.length - 1) + 1;
    if (d > p) p = d;
  }
  return p;
}

/** IPv6 counterpart of pinnedLevelsV4. */
export function pinnedLevelsV6(reserved: readonly Prefix6[], w: ArrayLike<number>): number {
  let p = 0;
  for (let i = 0; i < reserved.length; i++) {
    const r = reserved[i];
    if (r.length === 0) continue;
    const d = Math.min(commonPrefix128(w, r.words), r.length - 1) + 1;
    if (d > p) p = d;
  }
  return p;
}

/** The tree nodes pinned by `reserved`, keyed (1 << level) + prefix (the PrefixBitV4 node id). */
export function pinnedNodesV4(reserved: readonly Prefix4[]): Set<number> {
  const s = new Set<number>();
  for (const r of reserved) {
    for (let level = 0; level < r.length; level++) s.add(2 ** level + (level === 0 ? 0 : r.value >>> (32 - level)));
  }
  return s;
}

/** Effective action of every special kind (policy over DEFAULT_RANGE_ACTIONS; unlisted: map). */
export function rangeActions(ranges: Readonly<Record<string, RangeAction | undefined>> | undefined): Record<string, RangeAction> {
  const out: Record<string, RangeAction> = {};
  for (const k of SPECIAL_RANGE_KINDS) out[k] = ranges?.[k] ?? DEFAULT_RANGE_ACTIONS[k] ?? 'map';
  return out;
}

/**
 * Prefixes whose addresses the policy does not map (action keep or black-marker), per family,
 * with the kind they belong to.
 */
export function unmappedRanges(actions: Record<string, RangeAction>): { v4: Array<Prefix4 & { kind: string }>; v6: Array<Prefix6 & { kind: string }> } {
  const v4: Array<Prefix4 & { kind: string }> = [];
  const v6: Array<Prefix6 & { kind: string }> = [];
  for (const k of SPECIAL_RANGE_KINDS) {
    if (actions[k] === 'map') continue;
    for (const t of RANGE_PREFIXES[k].v4) v4.push({ ...p4(t), kind: k });
    for (const t of RANGE_PREFIXES[k].v6) v6.push({ ...p6(t), kind: k });
  }
  return { v4, v6 };
}

/**
 * What an internal target must not overlap: kept ranges, the black-marker values when a range
 * is black-marked, and (IPv6) ::ffff:0:0/96 and 64:ff9b::/96.
 */
export function forbiddenTargets(actions: Record<string, RangeAction>): { v4: Prefix4[]; v6: Prefix6[] } {
  const v4: Prefix4[] = [];
  const v6: Prefix6[] = [V4_SPACE, NAT64_SPACE];
  for (const k of SPECIAL_RANGE_KINDS) {
    if (actions[k] !== 'keep') continue;
    for (const t of RANGE_PREFIXES[k].v4) v4.push(p4(t));
    for (const t of RANGE_PREFIXES[k].v6) if (t !== '::ffff:0:0/96') v6.push(p6(t));
  }
  if (SPECIAL_RANGE_KINDS.some((k) => actions[k] === 'black-marker')) {
    v4.push({ value: 0, length: 32 });
    v6.push({ words: new Uint32Array(4), length: 128 });
  }
  return { v4, v6 };
}

/**
 * Whether an internal network is active (its addresses reach the internal mapping), inactive
 * (entirely inside a range the policy keeps or black-marks), or straddles such a range.
 */
export function internalNetworkState(net: Prefix4 | Prefix6, actions: Record<string, RangeAction>): 'active' | 'inactive' | 'partial' {
  const u = unmappedRanges(actions);
  const isV6 = 'words' in net;
  if (isV6 && (overlaps6(net, V4_SPACE) || overlaps6(net, NAT64_SPACE))) return 'partial';
  for (const r of isV6 ? u.v6 : u.v4) {
    const ov = isV6 ? overlaps6(net, r as Prefix6) : overlaps4(net as Prefix4, r as Prefix4);
    if (!ov) continue;
    return net.length >= r.length ? 'inactive' : 'partial';
  }
  return 'active';
}

/**
 * Builds the reserved outputs of a policy.
 * @param actions effective range actions (rangeActions()).
 * @param blocks the internal networks with their targets (InternalNetworks.blocks()), or none.
 * @throws AppError(PolicyInvalid) when an internal network straddles a kept/black-marked
 * range, or a target overlaps a kept range, a black-marker value or ::ffff:0:0/96.
 */
export function reservedOutputs(
  actions: Record<string, RangeAction>,
  blocks: { v4: readonly InternalBlock4[]; v6: readonly InternalBlock6[] } | null,
): ReservedOutputs {
  const forbidden = forbiddenTargets(actions);
  const v4: Prefix4[] = [...forbidden.v4];
  const v6: Prefix6[] = [...forbidden.v6];
  const redirect4: InternalBlock4[] = [];
  const redirect6: InternalBlock6[] = [];
  blocks?.v4.forEach((b, i) => {
    const state = internalNetworkState({ value: b.network, length: b.length }, actions);
    if (state === 'partial') throw new AppError(ErrorCode.PolicyInvalid, `IPv4 internal network #${i + 1} straddles a special range the policy keeps or black-marks`);
    if (state === 'inactive') return;
    const t = { value: b.target, length: b.length };
    if (forbidden.v4.some((f) => overlaps4(f, t))) throw new AppError(ErrorCode.PolicyInvalid, `the target of IPv4 internal network #${i + 1} overlaps a range the policy keeps`);
    v4.push(t);
    redirect4.push(b);
  });
  blocks?.v6.forEach((b, i) => {
    const state = internalNetworkState({ words: b.network, length: b.length }, actions);
    if (state === 'partial') throw new AppError(ErrorCode.PolicyInvalid, `IPv6 internal network #${i + 1} straddles a special range the policy keeps or black-marks, or overlaps ::ffff:0:0/96 or 64:ff9b::/96`);
    if (state === 'inactive') return;
    const t = { words: b.target, length: b.length };
    if (forbidden.v6.some((f) => overlaps6(f, t))) throw new AppError(ErrorCode.PolicyInvalid, `the target of IPv6 internal network #${i + 1} overlaps a range the policy keeps, ::ffff:0:0/96 or 64:ff9b::/96`);
    v6.push(t);
    redirect6.push(b);
  });
  const wide: Prefix6[] = [
    ...v6.filter((p) => p !== V4_SPACE),
    ...v4.map((p) => ({ words: new Uint32Array([0, 0, 0xffff, p.value]), length: 96 + p.length })),
  ];
  const id = JSON.stringify({ v4: v4.map((p) => [p.value, p.length]), v6: v6.map((p) => [...p.words, p.length]) });
  return { v4, v6, wide, redirect4, redirect6, id };
}

/** Rewrites an IPv4 input inside an active target T to N·suffix (see file comment); else returns it. */
export function redirectV4(res: ReservedOutputs, a: number): number {
  const r = res.redirect4;
  for (let i = 0; i < r.length; i++) {
    const m = maskV4(r[i].length);
    if (((a ^ r[i].target) & m) === 0) return ((r[i].network & m) | (a & ~m)) >>> 0;
  }
  return a;
}

/** IPv6 counterpart of redirectV4: writes the (possibly rewritten) address into `out`. */
export function redirectV6(res: ReservedOutputs, w: ArrayLike<number>, out: Uint32Array): void {
  for (let i = 0; i < 4; i++) out[i] = w[i] >>> 0;
  for (const b of res.redirect6) {
    if (commonPrefix128(w, b.target) < b.length) continue;
    for (let i = 0; i < 4; i++) {
      const m = maskV4(b.length - 32 * i);
      out[i] = ((b.network[i] & m) | (w[i] & ~m)) >>> 0;
    }
    return;
  }
}
