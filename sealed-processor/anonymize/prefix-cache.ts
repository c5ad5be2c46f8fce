/**
 * Memoizing front end for prefix-preserving IPv4 maps (ipcrypt-pfx, Crypto-PAn).
 *
 * Both maps compute output bit i as input bit i XOR a PRF bit that depends only on the i
 * leading input bits, i.e. one PRF bit per node of the binary prefix tree. Real traffic
 * concentrates on a few thousand /24s, so we memoize tree nodes: levels 0..15 in one flat
 * table, levels 16..23 per /16, and per /24 the mapped /24 plus its host subtree and the
 * final host byte. A warm lookup is one Map.get and one typed-array read instead of 32–64
 * AES calls.
 *
 * Owns: the memo tables and their bound (FIFO eviction of /16 and /24 entries). Never
 * stores anything but PRF bits and mapped values (no raw address text), no IO.
 */

/** PRF bit of a prefix-preserving map at `level` for the `level` leading bits `prefix`. */
export type PrefixBitV4 = (level: number, prefix: number) => number;

interface Slash24Entry {
  /** Mapped /24 (already shifted into the top 24 bits). */
  readonly out24: number;
  /** PRF bits of the host subtree (index (1 << depth) | hostPrefix), -1 unknown. */
  readonly nodes: Int8Array;
  /** Mapped host byte per input host byte, -1 unknown. */
  readonly hosts: Int16Array;
}

/** Counters of a PrefixCacheV4. */
export interface PrefixCacheStats {
  hits: number;
  misses: number;
  evictions: number;
}

/** Uncached prefix-preserving map of one IPv4 address using `bit`. */
export function mapPrefixPreservingV4(bit: PrefixBitV4, addr: number): number {
  let out = 0;
  for (let level = 0; level < 32; level++) {
    const prefix = level === 0 ? 0 : addr >>> (32 - level);
    out = out * 2 + (((addr >>> (31 - level)) & 1) ^ bit(level, prefix));
  }
  return out >>> 0;
}

/** A memoized prefix-preserving IPv4 map; see the file comment. */
export class PrefixCacheV4 {
  readonly stats: PrefixCacheStats = { hits: 0, misses: 0, evictions: 0 };
  readonly #bit: PrefixBitV4;
  readonly #maxEntries: number;
  readonly #top = new Int8Array(1 << 16).fill(-1);
  readonly #mid = new Map<number, Int8Array>();
  readonly #leaves = new Map<number, Slash24Entry>();

  /**
   * @param bit the map's PRF bit function.
   * @param maxEntries bound on cached /24s (and /16s); default 16384 (≈ 12 MiB).
   */
  constructor(bit: PrefixBitV4, maxEntries = 16384) {
    this.#bit = bit;
    this.#maxEntries = Math.max(1, maxEntries);
  }

  /** Maps one IPv4 address (u32 in, u32 out). */
  map(addr: number): number {
    const p24 = addr >>> 8;
    let leaf = this.#leaves.get(p24);
    if (leaf !== undefined) {
      const h = leaf.hosts[addr & 255];
      if (h >= 0) {
        this.stats.hits++;
        return (leaf.out24 | h) >>> 0;
      }
    } else {
      leaf = this.#newLeaf(p24);
    }
    this.stats.misses++;
    const host = addr & 255;
    let out = 0;
    for (let depth = 0; depth < 8; depth++) {
      const hp = depth === 0 ? 0 : host >>> (8 - depth);
      const idx = (1 << depth) | hp;
      let b = leaf.nodes[idx];
      if (b < 0) {
        b = this.#bit(24 + depth, ((p24 << depth) | hp) >>> 0);
        leaf.nodes[idx] = b;
      }
      out = (out << 1) | (((host >>> (7 - depth)) & 1) ^ b);
    }
    leaf.hosts[host] = out;
    return (leaf.out24 | out) >>> 0;
  }

  #newLeaf(p24: number): Slash24Entry {
    const p16 = p24 >>> 8;
    let out = 0;
    for (let level = 0; level < 16; level++) {
      const prefix = level === 0 ? 0 : p24 >>> (24 - level);
      const idx = (1 << level) | prefix;
      let b = this.#top[idx];
      if (b < 0) {
        b = this.#bit(level, prefix);
        this.#top[idx] = b;
      }
      out = out * 2 + (((p24 >>> (23 - level)) & 1) ^ b);
    }
    let mid = this.#mid.get(p16);
    if (mid === undefined) {
      if (this.#mid.size >= this.#maxEntries) this.#evictOldest(this.#mid);
      mid = new Int8Array(256).fill(-1);
      this.#mid.set(p16, mid);
    }
    const sub = p24 & 255;
    for (let depth = 0; depth < 8; depth++) {
      const sp = depth === 0 ? 0 : sub >>> (8 - depth);
      const idx = (1 << depth) | sp;
      let b = mid[idx];
      if (b < 0) {
        b = this.#bit(16 + depth, ((p16 << depth) | sp) >>> 0);
        mid[idx] = b;
      }
      out = out * 2 + (((sub >>> (7 - depth)) & 1) ^ b);
    }
    if (this.#leaves.size >= this.#maxEntries) this.#evictOldest(this.#leaves);
    const leaf: Slash24Entry = {
      out24: (out << 8) >>> 0,
      nodes: new Int8Array(256).fill(-1),
      hosts: new Int16Array(256).fill(-1),
    };
    this.#leaves.set(p24, leaf);
    return leaf;
  }

  #evictOldest(m: Map<number, unknown>): void {
    const first = m.keys().next();
    if (!first.done) {
      m.delete(first.value);
      this.stats.evictions++;
    }
  }
}
