/**
 * Open-addressing hash index from canonical flow key to flow slot, and the key hash.
 *
 * Owns: a power-of-two `Int32Array` of slot ids (-1 empty) with linear probing at load ≤ 0.5,
 * backward-shift deletion (no tombstones, so lookups never slow down over time), and a keyed
 * hash over the 10 key words. The per-table random key (Web Crypto) makes it hard for crafted
 * traffic to aim many flows at one probe chain.
 * Never: allocates per lookup; never stores keys itself (they live in `FlowStore.keys`).
 */
import { KEY_WORDS } from './flow-store.ts';

function nextPowerOfTwo(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

/** Slot index keyed by the words in a `FlowStore.keys` array. */
export class FlowIndex {
  private table: Int32Array;
  private mask: number;
  private readonly salt: Uint32Array<ArrayBuffer>;

  /** @param capacity the largest number of flows the index must hold. */
  constructor(capacity: number) {
    const size = nextPowerOfTwo(capacity * 2);
    this.table = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    this.salt = new Uint32Array(KEY_WORDS + 1);
    globalThis.crypto.getRandomValues(this.salt);
  }

  /** Keyed 32-bit hash of `key[0..KEY_WORDS)` (murmur3-style mixing of salted words). */
  hashKey(key: Uint32Array): number {
    const salt = this.salt;
    let h = salt[KEY_WORDS];
    for (let i = 0; i < KEY_WORDS; i++) {
      let k = Math.imul(key[i] ^ salt[i], 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  }

  /** The slot whose stored key equals `key`, or -1. */
  find(key: Uint32Array, hash: number, keys: Uint32Array, hashes: Uint32Array): number {
    const table = this.table;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const id = table[i];
      if (id === -1) return -1;
      if (hashes[id] !== hash) continue;
      const base = id * KEY_WORDS;
      let same = true;
      for (let w = 0; w < KEY_WORDS; w++) {
        if (keys[base + w] !== key[w]) {
          same = false;
          break;
        }
      }
      if (same) return id;
    }
  }

  /** Adds slot `id` (whose hash is `hash`); the key must not be present. */
  insert(id: number, hash: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = hash & mask;
    while (table[i] !== -1) i = (i + 1) & mask;
    table[i] = id;
  }

  /** Removes slot `id` (hash `hash`), shifting later entries of its cluster back. */
  remove(id: number, hash: number, hashes: Uint32Array): void {
    const table = this.table;
    const mask = this.mask;
    let i = hash & mask;
    while (table[i] !== id) {
      if (table[i] === -1) return;
      i = (i + 1) & mask;
    }
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const other = table[j];
      if (other === -1) break;
      const home = hashes[other] & mask;
      // `other` may move into the hole at i when i lies on its probe path (home..j).
      if (((j - home) & mask) >= ((j - i) & mask)) {
        table[i] = other;
        i = j;
      }
    }
    table[i] = -1;
  }

  /** Rebuilds the table for a new capacity from the live slots' hashes. */
  rebuild(capacity: number, liveIds: ArrayLike<number>, hashes: Uint32Array): void {
    const size = nextPowerOfTwo(capacity * 2);
    this.table = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let i = 0; i < liveIds.length; i++) this.insert(liveIds[i], hashes[liveIds[i]]);
  }
}
