/**
 * Prefix arithmetic over the special ranges a policy names, shared by the policy validator
 * (schemas/policy.ts) and the anonymizer (sealed-processor/anonymize/reserved-outputs.ts): the
 * effective action of each range kind, the ranges a policy does not map, what an internal
 * target must not overlap, and whether an internal network is active.
 *
 * Owns: that arithmetic, over schemas/special-ranges.ts. Never: keys, IO.
 */
import type { RangeAction } from './policy.ts';
import { maskV4, parsePrefix } from './ip-address.ts';
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

export const V4_SPACE: Prefix6 = { words: new Uint32Array([0, 0, 0xffff, 0]), length: 96 };
/** NAT64 well-known prefix (RFC 6052 §2.1): only NAT64 inputs map there (address-anonymizer.ts). */
export const NAT64_SPACE: Prefix6 = { words: new Uint32Array([0x0064ff9b, 0, 0, 0]), length: 96 };

export function p4(text: string): Prefix4 {
  const p = parsePrefix(text);
  if (p === null || p.version !== 4) throw new TypeError('bad built-in IPv4 prefix');
  return { value: p.v4, length: p.length };
}

export function p6(text: string): Prefix6 {
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
