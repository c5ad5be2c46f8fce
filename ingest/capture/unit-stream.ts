/**
 * Reassembles a byte stream arriving in arbitrary chunks into whole "units" (file header,
 * record, block) for a parser, copying only when a unit straddles chunks.
 *
 * Owns: the pending buffer (grown only up to the size the parser asked for, which the parser
 * validates first: bounded buffering), streaming skips that never buffer, and the absolute
 * position. Never: retains a pushed chunk after `push` returns.
 */

/** The parser side: sizes units and consumes them. */
export interface UnitParser {
  /**
   * Bytes the next unit needs, judged from the `avail` bytes at `off`: a header size while
   * the header is incomplete, the whole unit's size once known. May throw.
   */
  need(buf: Uint8Array, view: DataView, off: number, avail: number): number;
  /** Consumes exactly `len` bytes (what `need` asked for). `position` is the unit's start. */
  consume(buf: Uint8Array, view: DataView, off: number, len: number): void;
}

export class UnitStream {
  readonly #parser: UnitParser;
  #pending = new Uint8Array(256);
  #pendingView = new DataView(this.#pending.buffer);
  #pendingLen = 0;
  #skip = 0;
  #pos = 0;

  constructor(parser: UnitParser) {
    this.#parser = parser;
  }

  /** Absolute offset of the first byte not yet consumed (the current unit's start). */
  get position(): number {
    return this.#pos;
  }

  /** True when input stopped inside a unit or a skip. */
  get midUnit(): boolean {
    return this.#pendingLen > 0 || this.#skip > 0;
  }

  /** Drops the next `n` bytes without buffering them (call from `consume`). */
  skip(n: number): void {
    this.#skip += n;
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const parser = this.#parser;
    let off = 0;
    for (;;) {
      if (this.#skip > 0) {
        const k = Math.min(this.#skip, n - off);
        this.#skip -= k;
        off += k;
        this.#pos += k;
        if (this.#skip > 0) return;
      } else if (this.#pendingLen === 0) {
        // Fast path: parse straight from the chunk, no copy.
        if (off === n) return;
        const need = parser.need(chunk, view, off, n - off);
        if (need > n - off) {
          this.#stash(chunk, off, n - off);
          return;
        }
        parser.consume(chunk, view, off, need);
        off += need;
        this.#pos += need;
      } else {
        const need = parser.need(this.#pending, this.#pendingView, 0, this.#pendingLen);
        if (need <= this.#pendingLen) {
          this.#pendingLen = 0;
          parser.consume(this.#pending, this.#pendingView, 0, need);
          this.#pos += need;
        } else {
          if (off === n) return;
          const k = Math.min(need - this.#pendingLen, n - off);
          this.#stash(chunk, off, k);
          off += k;
        }
      }
    }
  }

  #stash(src: Uint8Array, off: number, len: number): void {
    const need = this.#pendingLen + len;
    if (need > this.#pending.length) {
      let cap = this.#pending.length * 2;
      while (cap < need) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.#pending.subarray(0, this.#pendingLen));
      this.#pending = next;
      this.#pendingView = new DataView(next.buffer);
    }
    this.#pending.set(src.subarray(off, off + len), this.#pendingLen);
    this.#pendingLen = need;
  }
}
