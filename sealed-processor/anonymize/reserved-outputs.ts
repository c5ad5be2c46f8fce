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
 * the pinned-depth queries (prefix arithmetic and range actions: schemas/policy-ranges.ts).
 * Never logs, no IO.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { maskV4 } from '../../schemas/ip-address.ts';
import type { RangeAction } from '../../schemas/policy.ts';
import { V4_SPACE, commonPrefix128, commonPrefix32, forbiddenTargets, overlaps4, overlaps6, internalNetworkState, type Prefix4, type Prefix6 } from '../../schemas/policy-ranges.ts';


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
