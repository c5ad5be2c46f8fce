/**
 * pcapng Interface Description Block (draft-ietf-opsawg-pcapng §4.2): link type, snap length
 * and the clock options `if_tsresol` (code 9, 1 byte) and `if_tsoffset` (code 14, 8 bytes).
 *
 * Owns: IDB field offsets and option walking with bounds checks. Pure; returns an error
 * reason string instead of throwing so the caller adds offsets to its AppError.
 *
 * Layout (after the 8-byte block header): 8 u16 LinkType · 10 u16 reserved · 12 u32 SnapLen ·
 * 16 options (u16 code, u16 length, value padded to 4) · trailing u32 block length.
 */
import { IdbOption } from './capture-format.ts';
import { defaultClock, setResolution, type TickClock } from './pcapng-time.ts';

/** One declared interface of a pcapng section. */
export interface CaptureInterface {
  linkType: number;
  /** 0 = unlimited. */
  snapLen: number;
  clock: TickClock;
}

export type InterfaceError = 'bad-options' | 'unsupported-tsresol';

/** Parses the block at `off` (whole block, `blockLen` bytes, trailer already checked). */
export function parseInterfaceBlock(view: DataView, off: number, blockLen: number, le: boolean): CaptureInterface | InterfaceError {
  const iface: CaptureInterface = {
    linkType: view.getUint16(off + 8, le),
    snapLen: view.getUint32(off + 12, le),
    clock: defaultClock(),
  };
  const end = off + blockLen - 4;
  let p = off + 16;
  while (p < end) {
    if (end - p < 4) return 'bad-options';
    const code = view.getUint16(p, le);
    const len = view.getUint16(p + 2, le);
    const padded = (len + 3) & ~3;
    if (p + 4 + padded > end) return 'bad-options';
    if (code === IdbOption.EndOfOptions) break;
    if (code === IdbOption.TsResol) {
      if (len !== 1) return 'bad-options';
      if (!setResolution(iface.clock, view.getUint8(p + 4))) return 'unsupported-tsresol';
    } else if (code === IdbOption.TsOffset) {
      if (len !== 8) return 'bad-options';
      // Signed 64-bit seconds; |offset| beyond 2^53 is meaningless and fails the range check later.
      const lo = view.getUint32(p + 4 + (le ? 0 : 4), le);
      const hi = view.getInt32(p + 4 + (le ? 4 : 0), le);
      iface.clock.offsetSec = hi * 0x1_0000_0000 + lo;
    }
    p += 4 + padded;
  }
  return iface;
}
