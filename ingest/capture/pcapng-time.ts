/**
 * pcapng timestamps: turns an interface's 64-bit tick count (`if_tsresol`, `if_tsoffset`)
 * into seconds + nanoseconds, exactly, without BigInt (this runs once per packet).
 *
 * Owns: the resolution model and the arithmetic. Pure. Never allocates per call: results go
 * into a caller-owned object.
 */

/** How an interface counts time: decimal (10^-k s) or binary (2^-k s) ticks, plus an offset. */
export interface TickClock {
  /** True for 2^-k resolution (if_tsresol with the most significant bit set). */
  binary: boolean;
  /** k in 10^-k or 2^-k. */
  exponent: number;
  /** if_tsoffset: whole seconds added to every timestamp (may be negative). */
  offsetSec: number;
}

export interface TimeOut {
  sec: number;
  nsec: number;
}

/** The default clock: microseconds, no offset. */
export function defaultClock(): TickClock {
  return { binary: false, exponent: 6, offsetSec: 0 };
}

/**
 * Applies an `if_tsresol` byte. Returns false when the resolution cannot be represented
 * (decimal finer than 10^-18 s or binary finer than 2^-63 s).
 */
export function setResolution(clock: TickClock, tsresol: number): boolean {
  const binary = (tsresol & 0x80) !== 0;
  const exponent = tsresol & 0x7f;
  if (binary ? exponent > 63 : exponent > 18) return false;
  clock.binary = binary;
  clock.exponent = exponent;
  return true;
}

const TWO32 = 0x1_0000_0000;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

// Scratch results of divmod64 (module-level so the per-packet path allocates nothing).
let qHi = 0;
let qLo = 0;
let rem = 0;

/**
 * Divides the unsigned 64-bit value hi·2^32 + lo by d (1 ≤ d ≤ 10^9) by 16-bit long
 * division, so every intermediate stays below 2^53. The quotient lands in (qHi, qLo), both
 * u32, and the remainder in rem.
 */
function divmod64(hi: number, lo: number, d: number): void {
  qHi = Math.floor(hi / d);
  let r = hi - qHi * d;
  let x = r * 65536 + (lo >>> 16);
  const q1 = Math.floor(x / d);
  r = x - q1 * d;
  x = r * 65536 + (lo & 0xffff);
  const q2 = Math.floor(x / d);
  qLo = q1 * 65536 + q2;
  rem = x - q2 * d;
}

/**
 * Converts ticks (hi, lo: the two u32 halves) into seconds and nanoseconds (truncated),
 * adding the clock's offset. `out.sec` may come out negative or ≥ 2^32 on hostile input
 * (and then loses precision): the caller range-checks it.
 */
export function ticksToTime(clock: TickClock, hi: number, lo: number, out: TimeOut): void {
  const k = clock.exponent;
  if (clock.binary) {
    if (k === 0) {
      out.sec = hi * TWO32 + lo;
      out.nsec = 0;
    } else if (k <= 32) {
      const scale = 2 ** k;
      out.sec = hi * 2 ** (32 - k) + Math.floor(lo / scale);
      // 1e9 = 2^9 · 1953125: frac · 1953125 < 2^53, so this floor is exact.
      const frac = lo % scale;
      out.nsec = k <= 9 ? Math.floor((frac * 1e9) / scale) : Math.floor((frac * 1953125) / 2 ** (k - 9));
    } else {
      const hk = k - 32;
      const scaleHi = 2 ** hk;
      out.sec = Math.floor(hi / scaleHi);
      // Finer than 2^-32 s (exotic): within 1 ns, not bit-exact.
      out.nsec = Math.floor((((hi % scaleHi) * TWO32 + lo) / 2 ** k) * 1e9);
    }
    if (out.nsec > 999_999_999) out.nsec = 999_999_999;
  } else if (k <= 9) {
    divmod64(hi, lo, POW10[k]!);
    out.sec = qHi * TWO32 + qLo;
    out.nsec = rem * POW10[9 - k]!;
  } else {
    // Finer than a nanosecond: drop the sub-nanosecond digits, then split the nanoseconds.
    divmod64(hi, lo, POW10[k - 9]!);
    divmod64(qHi, qLo, 1e9);
    out.sec = qHi * TWO32 + qLo;
    out.nsec = rem;
  }
  out.sec += clock.offsetSec;
}
