/**
 * Byte writer and bounds-checked reader for the worker's checkpoint image (worker-checkpoint.ts):
 * big-endian fixed-width numbers, length-prefixed byte strings and optional UTF-8 strings.
 *
 * Owns: growth of the output buffer and every bounds check of the input. A read past the end or
 * a value outside what the caller allows throws `StateError` (the checkpoint is then refused
 * whole); nothing else is thrown for bad bytes.
 * Never: allocates more than the input's own length for a length-prefixed field.
 */

/** A checkpoint image that cannot be read (truncated, out of range, inconsistent). */
export class StateError extends Error {}

export class StateWriter {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  #o = 0;

  #room(n: number): void {
    if (this.#o + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#o + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#o));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(x: number): void {
    this.#room(1);
    this.#view.setUint8(this.#o, x);
    this.#o += 1;
  }
  u16(x: number): void {
    this.#room(2);
    this.#view.setUint16(this.#o, x);
    this.#o += 2;
  }
  i16(x: number): void {
    this.#room(2);
    this.#view.setInt16(this.#o, x);
    this.#o += 2;
  }
  u32(x: number): void {
    this.#room(4);
    this.#view.setUint32(this.#o, x);
    this.#o += 4;
  }
  i32(x: number): void {
    this.#room(4);
    this.#view.setInt32(this.#o, x);
    this.#o += 4;
  }
  f64(x: number): void {
    this.#room(8);
    this.#view.setFloat64(this.#o, x);
    this.#o += 8;
  }
  /** u32 length, then the bytes. */
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.#room(b.length);
    this.#buf.set(b, this.#o);
    this.#o += b.length;
  }
  /** Raw bytes, no length (the reader knows it). */
  raw(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.#o);
    this.#o += b.length;
  }
  /** u16 length (0xffff: null), then UTF-8. Strings over 65534 bytes are refused. */
  optString(s: string | null): void {
    if (s === null) return this.u16(0xffff);
    const b = new TextEncoder().encode(s);
    if (b.length >= 0xffff) throw new TypeError('StateWriter: string too long');
    this.u16(b.length);
    this.raw(b);
  }
  /** u32 count, then name (optString) and f64 value of each entry. */
  counts(c: Readonly<Record<string, number>>): void {
    const entries = Object.entries(c);
    this.u32(entries.length);
    for (const [k, v] of entries) {
      this.optString(k);
      this.f64(v);
    }
  }
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#o);
  }
}

export class StateReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #o = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.#bytes.length - this.#o;
  }

  #take(n: number): number {
    if (n > this.#bytes.length - this.#o) throw new StateError('truncated');
    const o = this.#o;
    this.#o += n;
    return o;
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }
  u16(): number {
    return this.#view.getUint16(this.#take(2));
  }
  i16(): number {
    return this.#view.getInt16(this.#take(2));
  }
  u32(): number {
    return this.#view.getUint32(this.#take(4));
  }
  i32(): number {
    return this.#view.getInt32(this.#take(4));
  }
  f64(): number {
    return this.#view.getFloat64(this.#take(8));
  }
  /** A finite f64. */
  finite(what: string): number {
    const x = this.f64();
    if (!Number.isFinite(x)) throw new StateError(`${what}: not finite`);
    return x;
  }
  /** An integer u32 no larger than `max`. */
  count(max: number, what: string): number {
    const n = this.u32();
    if (n > max) throw new StateError(`${what}: ${n} > ${max}`);
    return n;
  }
  /** u32 length (at most `max`), then that many bytes (a copy). */
  bytes(max: number, what: string): Uint8Array {
    const n = this.count(max, what);
    const o = this.#take(n);
    return this.#bytes.slice(o, o + n);
  }
  raw(n: number): Uint8Array {
    const o = this.#take(n);
    return this.#bytes.subarray(o, o + n);
  }
  optString(maxBytes: number, what: string): string | null {
    const n = this.u16();
    if (n === 0xffff) return null;
    if (n > maxBytes) throw new StateError(`${what}: string of ${n} bytes`);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.raw(n));
    } catch {
      throw new StateError(`${what}: not UTF-8`);
    }
  }
  counts(maxEntries: number, what: string): Record<string, number> {
    const n = this.count(maxEntries, what);
    const out: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const k = this.optString(200, what);
      if (k === null || k === '__proto__' || !/^[A-Za-z0-9_.-]+$/.test(k)) throw new StateError(`${what}: bad name`);
      const v = this.f64();
      if (!(Number.isFinite(v) && v >= 0)) throw new StateError(`${what}: bad value`);
      out[k] = v;
    }
    return out;
  }
  end(): void {
    if (this.#o !== this.#bytes.length) throw new StateError('trailing bytes');
  }
}
