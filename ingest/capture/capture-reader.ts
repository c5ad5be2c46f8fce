/**
 * Streaming, push-based reader of classic pcap and pcapng captures: feed it chunks of any
 * size (a file, stdin), it calls back once per packet with a reused record object.
 *
 * Owns: format detection, byte order, per-interface link type and clock, and every length
 * check, made before a unit is buffered (unit-stream.ts reassembles units split across
 * chunks; skipped blocks are streamed past, never buffered). Errors are AppErrors
 * whose details hold only byte offsets, block types and record indexes.
 * Never: reads past a length the file announced without checking it, logs or throws packet
 * bytes, or keeps a reference to a pushed chunk after `push` returns.
 *
 * Formats: pcap (draft-ietf-opsawg-pcap §4–5: 24-byte file header, 16-byte record header,
 * µs or ns magic, either byte order) and pcapng (draft-ietf-opsawg-pcapng: SHB §4.1, IDB
 * §4.2, EPB §4.3, SPB §4.4, obsolete PB appendix A; every other block is skipped by length).
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import {
  BlockType,
  MAX_CAPTURE_LENGTH,
  MAX_INTERFACES,
  PCAP_FILE_HEADER_BYTES,
  PCAP_RECORD_HEADER_BYTES,
  PCAPNG_BYTE_ORDER_MAGIC,
  PcapMagic,
} from './capture-format.ts';
import { ticksToTime, type TickClock, type TimeOut } from './pcapng-time.ts';
import { parseInterfaceBlock, type CaptureInterface } from './pcapng-interface.ts';
import { planBlock } from './pcapng-block.ts';
import { UnitStream } from './unit-stream.ts';
import type { CaptureFormat, CaptureRecord, CaptureStats } from './capture-record.ts';

export type { CaptureFormat, CaptureRecord, CaptureStats } from './capture-record.ts';

type Mode = 'start' | 'pcap' | 'pcapng' | 'trailer';

const EMPTY = new Uint8Array(0);

function fail(code: ErrorCode, message: string, details: Record<string, unknown>): AppError {
  return new AppError(code, message, { details });
}

/**
 * Push-based capture reader. `push(chunk)` may call `onRecord` any number of times; `end()`
 * checks that the input did not stop inside a unit. After an error every call rethrows it.
 *
 * Throws (from push/end): ERR_CAPTURE_BAD_MAGIC (neither format), ERR_CAPTURE_TRUNCATED
 * (input ends inside a header, record or block — earlier records were already delivered),
 * ERR_CAPTURE_CORRUPT (impossible lengths, bad trailer, unknown interface, time out of range),
 * ERR_CAPTURE_UNSUPPORTED (pcapng major version ≠ 1, unrepresentable if_tsresol).
 */
export class CaptureReader {
  readonly #onRecord: (rec: CaptureRecord) => void;
  readonly #rec: CaptureRecord = { linkType: 0, ifIndex: 0, tsSec: 0, tsNsec: 0, origLen: 0, capLen: 0, data: EMPTY };
  readonly #time: TimeOut = { sec: 0, nsec: 0 };
  readonly stats: CaptureStats = { records: 0, simplePacketBlocks: 0, skippedBlocks: 0, sections: 0, interfaces: 0 };
  #format: CaptureFormat | null = null;
  #mode: Mode = 'start';
  #le = true;
  readonly #stream: UnitStream = new UnitStream({
    need: (buf, view, off, avail) => this.#need(buf, view, off, avail),
    consume: (buf, view, off, len) => this.#consume(buf, view, off, len),
  });
  /** A skipped block's length, checked against its trailer. */
  #trailerExpect = 0;
  #trailerBlockStart = 0;
  // classic pcap
  #pcapLinkType = 0;
  #pcapNanos = false;
  // pcapng
  #ifaces: CaptureInterface[] = [];
  #error: unknown = null;
  #ended = false;

  /** @param onRecord called synchronously per packet; may throw to abort reading. */
  constructor(onRecord: (rec: CaptureRecord) => void) {
    this.#onRecord = onRecord;
  }

  /** 'pcap' or 'pcapng' once the first bytes were seen, else null. */
  get format(): CaptureFormat | null {
    return this.#format;
  }

  /** Bytes consumed so far (the start of the unit being read). */
  get offset(): number {
    return this.#stream.position;
  }

  /** Feeds the next chunk. The chunk is not retained. */
  push(chunk: Uint8Array): void {
    if (this.#error !== null) throw this.#error;
    if (this.#ended) throw new TypeError('CaptureReader.push after end');
    try {
      this.#stream.push(chunk);
    } catch (e) {
      this.#error = e;
      throw e;
    }
  }

  /** Signals end of input; throws ERR_CAPTURE_TRUNCATED if it stopped inside a unit. */
  end(): void {
    if (this.#error !== null) throw this.#error;
    this.#ended = true;
    if (this.#mode === 'start') {
      this.#error = fail(ErrorCode.CaptureTruncated, 'capture ends before its file header', { offset: this.#stream.position });
    } else if (this.#stream.midUnit || this.#mode === 'trailer') {
      const what = this.#format === 'pcap' ? 'record' : 'block';
      this.#error = fail(ErrorCode.CaptureTruncated, `capture ends inside a ${what} (${this.stats.records} records read)`, {
        offset: this.#stream.position,
        record: this.stats.records,
      });
    }
    if (this.#error !== null) throw this.#error;
  }

  /**
   * Bytes the next unit needs, judged from the `avail` bytes at `off`: a header size while
   * the header is incomplete, the whole unit's size once it is known (validated here, so
   * buffering is bounded before a byte is copied).
   */
  #need(buf: Uint8Array, view: DataView, off: number, avail: number): number {
    switch (this.#mode) {
      case 'start': {
        if (avail < 4) return 4;
        const magic = view.getUint32(off, true);
        if (magic === BlockType.SectionHeader) {
          this.#format = 'pcapng';
          this.#mode = 'pcapng';
          return this.#need(buf, view, off, avail);
        }
        if (magic === PcapMagic.MicroLe || magic === PcapMagic.MicroBe || magic === PcapMagic.NanoLe || magic === PcapMagic.NanoBe) {
          return PCAP_FILE_HEADER_BYTES;
        }
        throw fail(ErrorCode.CaptureBadMagic, 'input is neither a pcap nor a pcapng capture', { offset: this.#stream.position });
      }
      case 'pcap': {
        if (avail < PCAP_RECORD_HEADER_BYTES) return PCAP_RECORD_HEADER_BYTES;
        const capLen = view.getUint32(off + 8, this.#le);
        if (capLen > MAX_CAPTURE_LENGTH) {
          throw fail(ErrorCode.CaptureCorrupt, `pcap record ${this.stats.records} has an impossible captured length`, { offset: this.#stream.position, record: this.stats.records, capLen });
        }
        return PCAP_RECORD_HEADER_BYTES + capLen;
      }
      case 'trailer':
        return 4;
      case 'pcapng':
        return this.#needBlock(view, off, avail);
    }
  }

  #needBlock(view: DataView, off: number, avail: number): number {
    if (avail < 8) return 8;
    let type = view.getUint32(off, this.#le);
    if (type === BlockType.SectionHeader) {
      // The section's byte order is only known from its byte-order magic.
      if (avail < 16) return 16;
      const bom = view.getUint32(off + 8, true);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.#le = true;
      else if (bom === 0x4d3c2b1a) this.#le = false;
      else if (this.stats.sections === 0) throw fail(ErrorCode.CaptureBadMagic, 'pcapng section header has no valid byte-order magic', { offset: this.#stream.position });
      else throw fail(ErrorCode.CaptureCorrupt, 'pcapng section header has no valid byte-order magic', { offset: this.#stream.position });
      type = BlockType.SectionHeader;
    }
    const len = view.getUint32(off + 4, this.#le);
    const details = { offset: this.#stream.position, blockType: type, blockLength: len, record: this.stats.records };
    if (len < 12 || len % 4 !== 0) throw fail(ErrorCode.CaptureCorrupt, 'pcapng block length is not a multiple of 4 of at least 12', details);
    const plan = planBlock(type, len);
    if (typeof plan === 'string') throw fail(ErrorCode.CaptureCorrupt, `pcapng block: ${plan}`, details);
    return plan;
  }

  /** Consumes exactly `len` bytes at `off` (the size #need asked for). */
  #consume(buf: Uint8Array, view: DataView, off: number, len: number): void {
    switch (this.#mode) {
      case 'start':
        this.#readPcapHeader(view, off);
        return;
      case 'pcap':
        this.#readPcapRecord(buf, view, off, len);
        return;
      case 'trailer': {
        const got = view.getUint32(off, this.#le);
        if (got !== this.#trailerExpect) {
          throw fail(ErrorCode.CaptureCorrupt, 'pcapng block trailing length does not match its header', { offset: this.#trailerBlockStart, blockLength: this.#trailerExpect });
        }
        this.#mode = 'pcapng';
        return;
      }
      case 'pcapng':
        this.#readBlock(buf, view, off, len);
    }
  }

  #readPcapHeader(view: DataView, off: number): void {
    const magic = view.getUint32(off, true);
    this.#le = magic === PcapMagic.MicroLe || magic === PcapMagic.NanoLe;
    this.#pcapNanos = magic === PcapMagic.NanoLe || magic === PcapMagic.NanoBe;
    // Link type: low 16 bits of the LinkType field (upper bits carry FCS information).
    this.#pcapLinkType = view.getUint32(off + 20, this.#le) & 0xffff;
    this.#format = 'pcap';
    this.#mode = 'pcap';
    this.stats.interfaces = 1;
  }

  #readPcapRecord(buf: Uint8Array, view: DataView, off: number, len: number): void {
    let sec = view.getUint32(off, this.#le);
    let frac = view.getUint32(off + 4, this.#le);
    // Some writers leave the fraction ≥ one second: carry it.
    const unit = this.#pcapNanos ? 1e9 : 1e6;
    if (frac >= unit) {
      sec += Math.floor(frac / unit);
      frac %= unit;
    }
    if (sec > 0xffffffff) throw fail(ErrorCode.CaptureCorrupt, 'pcap record timestamp out of range', { offset: this.#stream.position, record: this.stats.records });
    const rec = this.#rec;
    rec.linkType = this.#pcapLinkType;
    rec.ifIndex = 0;
    rec.tsSec = sec;
    rec.tsNsec = this.#pcapNanos ? frac : frac * 1000;
    rec.capLen = len - PCAP_RECORD_HEADER_BYTES;
    rec.origLen = view.getUint32(off + 12, this.#le);
    rec.data = buf.subarray(off + PCAP_RECORD_HEADER_BYTES, off + len);
    this.#deliver();
  }

  #deliver(): void {
    const rec = this.#rec;
    this.stats.records++;
    try {
      this.#onRecord(rec);
    } finally {
      rec.data = EMPTY;
    }
  }

  #readBlock(buf: Uint8Array, view: DataView, off: number, len: number): void {
    const type = view.getUint32(off, this.#le);
    const blockLen = view.getUint32(off + 4, this.#le);
    if (len < blockLen) {
      // Header-only consumption: section headers and skipped blocks; their trailer follows.
      if (type === BlockType.SectionHeader) this.#startSection(view, off);
      else this.stats.skippedBlocks++;
      this.#stream.skip(blockLen - len - 4);
      this.#trailerExpect = blockLen;
      this.#trailerBlockStart = this.#stream.position;
      this.#mode = 'trailer';
      return;
    }
    if (view.getUint32(off + blockLen - 4, this.#le) !== blockLen) {
      throw fail(ErrorCode.CaptureCorrupt, 'pcapng block trailing length does not match its header', { offset: this.#stream.position, blockType: type, blockLength: blockLen });
    }
    const details = { offset: this.#stream.position, blockType: type, record: this.stats.records };
    switch (type) {
      case BlockType.InterfaceDescription: {
        if (this.#ifaces.length >= MAX_INTERFACES) throw fail(ErrorCode.CaptureCorrupt, 'too many pcapng interfaces in one section', details);
        const iface = parseInterfaceBlock(view, off, blockLen, this.#le);
        if (typeof iface === 'string') {
          const code = iface === 'unsupported-tsresol' ? ErrorCode.CaptureUnsupported : ErrorCode.CaptureCorrupt;
          throw fail(code, `pcapng interface description: ${iface}`, details);
        }
        this.#ifaces.push(iface);
        this.stats.interfaces++;
        return;
      }
      case BlockType.EnhancedPacket:
      case BlockType.Packet: {
        const ifIndex = type === BlockType.Packet ? view.getUint16(off + 8, this.#le) : view.getUint32(off + 8, this.#le);
        const capLen = view.getUint32(off + 20, this.#le);
        if (capLen > MAX_CAPTURE_LENGTH || 28 + capLen + 4 > blockLen) {
          throw fail(ErrorCode.CaptureCorrupt, 'pcapng packet block captured length exceeds its block', { ...details, capLen });
        }
        const iface = this.#iface(ifIndex, details);
        this.#setTime(iface.clock, view.getUint32(off + 12, this.#le), view.getUint32(off + 16, this.#le), details);
        this.#emitPacket(buf, iface, ifIndex, off + 28, capLen, view.getUint32(off + 24, this.#le));
        return;
      }
      case BlockType.SimplePacket: {
        const iface = this.#iface(0, details);
        const origLen = view.getUint32(off + 8, this.#le);
        let capLen = Math.min(origLen, blockLen - 16);
        if (iface.snapLen > 0 && capLen > iface.snapLen) capLen = iface.snapLen;
        if (capLen > MAX_CAPTURE_LENGTH) throw fail(ErrorCode.CaptureCorrupt, 'pcapng simple packet block too large', { ...details, capLen });
        this.stats.simplePacketBlocks++;
        // No timestamp in an SPB: the last delivered time is reused (this.#time unchanged).
        this.#emitPacket(buf, iface, 0, off + 12, capLen, origLen);
        return;
      }
      default:
        this.stats.skippedBlocks++;
    }
  }

  #startSection(view: DataView, off: number): void {
    const major = view.getUint16(off + 12, this.#le);
    if (major !== 1) throw fail(ErrorCode.CaptureUnsupported, 'pcapng major version is not 1', { offset: this.#stream.position, major });
    this.#ifaces = [];
    this.stats.sections++;
  }

  #iface(ifIndex: number, details: Record<string, unknown>): CaptureInterface {
    const iface = this.#ifaces[ifIndex];
    if (!iface) throw fail(ErrorCode.CaptureCorrupt, 'pcapng packet refers to an undeclared interface', { ...details, ifIndex });
    return iface;
  }

  #setTime(clock: TickClock, hi: number, lo: number, details: Record<string, unknown>): void {
    ticksToTime(clock, hi, lo, this.#time);
    if (!(this.#time.sec >= 0 && this.#time.sec <= 0xffffffff)) {
      throw fail(ErrorCode.CaptureCorrupt, 'pcapng packet timestamp out of range', details);
    }
  }

  #emitPacket(buf: Uint8Array, iface: CaptureInterface, ifIndex: number, dataOff: number, capLen: number, origLen: number): void {
    const rec = this.#rec;
    rec.linkType = iface.linkType;
    rec.ifIndex = ifIndex;
    rec.tsSec = this.#time.sec;
    rec.tsNsec = this.#time.nsec;
    rec.capLen = capLen;
    rec.origLen = origLen;
    rec.data = buf.subarray(dataOff, dataOff + capLen);
    this.#deliver();
  }
}
