/**
 * The spool's wire contract: plaintext record framing, the sealed segment header, chunk
 * AAD, segment file names and the processor's public-key file. Ingest writes it, the sealed
 * processor reads it; nobody redefines these layouts elsewhere.
 *
 * Owns: byte layouts and their bounds checks (pure: no IO, no clock, no `node:*`).
 * Never: holds or derives keys, and never puts record bytes into an error message or detail.
 *
 * Record (24-byte header, little-endian, then `capLen` body bytes, no padding):
 *   0 u8 kind (1 packet, 2 flow-export datagram) · 1 u8 flags (0) · 2 u16 linkType (pcap
 *   LINKTYPE_*, 0 for datagrams) · 4 u32 ifIndex (interface id; exporter UDP port for
 *   datagrams) · 8 u32 tsSec · 12 u32 tsNsec · 16 u32 origLen · 20 u32 capLen.
 *   A datagram body starts with the 16-byte exporter address (IPv6 / IPv4-mapped).
 *
 * Segment header (little-endian). Everything before `enc` is the HPKE `info` (RFC 9180
 * §5.1); `enc` itself is bound through the KEM context (§4.1), so every header bit is bound:
 *   0 "FSSPOOL1" · 8 u16 formatVersion · 10 u16 headerLength · 12 u16 kemId · 14 u16 kdfId ·
 *   16 u16 aeadId · 18 u8 flags (bit 0 = final segment of the run) · 19 u8 runIdLength ·
 *   20 u32 seq · 24 u32 createdAt low · 28 u32 createdAt high (ms since epoch) ·
 *   32 16-byte recipient key id · 48 u16 encLength · 50 runId (ASCII) · then enc.
 * Body: chunks, each `u32 ciphertextLength ‖ ciphertext`, AAD = u32 chunkIndex ‖ u8 final.
 */
import { z } from 'zod';
import { AppError, ErrorCode } from './errors.ts';
import { RunId } from './archive.ts';

// ---------------------------------------------------------------- record framing

export const SPOOL_RECORD_HEADER_BYTES = 24;
/** Largest record body (capture snap length bound; also covers any UDP datagram + address). */
export const SPOOL_MAX_BODY_BYTES = 262_144;
/** Bytes of exporter address at the start of a datagram body. */
export const SPOOL_DATAGRAM_ADDRESS_BYTES = 16;

export const RecordKind = { Packet: 1, FlowDatagram: 2 } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** Fields of one record to encode. `data.length` becomes capLen. */
export interface SpoolRecordInput {
  kind: RecordKind;
  linkType: number;
  ifIndex: number;
  tsSec: number;
  tsNsec: number;
  origLen: number;
  data: Uint8Array;
}

/** One decoded record; the object is reused and `data` is a view valid only in the callback. */
export interface SpoolRecordView {
  kind: RecordKind;
  flags: number;
  linkType: number;
  ifIndex: number;
  tsSec: number;
  tsNsec: number;
  origLen: number;
  capLen: number;
  data: Uint8Array;
}

/** A growable byte buffer records are framed into (amortized doubling, one DataView). */
export class SpoolBuffer {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  /** @param initialCapacity bytes, default 64 KiB. */
  constructor(initialCapacity = 65_536) {
    this.#buf = new Uint8Array(Math.max(16, initialCapacity));
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes framed so far. */
  get length(): number {
    return this.#len;
  }

  /** The framed bytes so far (a view: invalid after the next write). */
  get bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /** Reserves `n` bytes at the end and returns their offset; use `view` to fill them. */
  reserve(n: number): number {
    const need = this.#len + n;
    if (need > this.#buf.length) {
      let cap = this.#buf.length * 2;
      while (cap < need) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    const at = this.#len;
    this.#len = need;
    return at;
  }

  /** DataView over the whole backing store (replaced when the buffer grows). */
  get view(): DataView {
    return this.#view;
  }

  /** The whole backing store (replaced when the buffer grows). */
  get raw(): Uint8Array {
    return this.#buf;
  }

  /** Drops the first `n` bytes, moving the rest to the front. */
  discard(n: number): void {
    if (n >= this.#len) {
      this.#len = 0;
      return;
    }
    this.#buf.copyWithin(0, n, this.#len);
    this.#len -= n;
  }

  /** Forgets all framed bytes (keeps the capacity). */
  clear(): void {
    this.#len = 0;
  }
}

/** Framed size of a record with `capLen` body bytes. */
export function spoolRecordBytes(capLen: number): number {
  return SPOOL_RECORD_HEADER_BYTES + capLen;
}

/**
 * Appends one framed record to `out`; returns the bytes appended. Throws TypeError on
 * out-of-range fields (the caller produced them: a bug, not untrusted input).
 */
export function encodeSpoolRecord(out: SpoolBuffer, rec: SpoolRecordInput): number {
  const capLen = rec.data.length;
  if (rec.kind !== RecordKind.Packet && rec.kind !== RecordKind.FlowDatagram) throw new TypeError('spool record: bad kind');
  if (capLen > SPOOL_MAX_BODY_BYTES) throw new TypeError('spool record: body too large');
  if (rec.kind === RecordKind.FlowDatagram && capLen < SPOOL_DATAGRAM_ADDRESS_BYTES) throw new TypeError('spool record: datagram without address');
  if (!(rec.tsNsec >= 0 && rec.tsNsec < 1e9)) throw new TypeError('spool record: tsNsec out of range');
  const at = out.reserve(SPOOL_RECORD_HEADER_BYTES + capLen);
  writeSpoolRecordHeader(out.view, at, rec.kind, rec.linkType, rec.ifIndex, rec.tsSec, rec.tsNsec, rec.origLen, capLen);
  out.raw.set(rec.data, at + SPOOL_RECORD_HEADER_BYTES);
  return SPOOL_RECORD_HEADER_BYTES + capLen;
}

/**
 * Writes a record's 24-byte header at `at` in `v`, for framing in place where a SpoolBuffer
 * does not fit (the collector frames straight into shared memory); the `capLen` body bytes
 * follow. Unchecked: callers bound-check as `encodeSpoolRecord` does.
 */
export function writeSpoolRecordHeader(v: DataView, at: number, kind: RecordKind, linkType: number, ifIndex: number, tsSec: number, tsNsec: number, origLen: number, capLen: number): void {
  v.setUint8(at, kind);
  v.setUint8(at + 1, 0);
  v.setUint16(at + 2, linkType, true);
  v.setUint32(at + 4, ifIndex, true);
  v.setUint32(at + 8, tsSec, true);
  v.setUint32(at + 12, tsNsec, true);
  v.setUint32(at + 16, origLen, true);
  v.setUint32(at + 20, capLen, true);
}

function recordInvalid(msg: string, offset: number, index: number): AppError {
  return new AppError(ErrorCode.SpoolRecordInvalid, `spool record ${index} at byte ${offset}: ${msg}`, { details: { offset, index } });
}

/**
 * Walks the records of a segment's plaintext, calling `cb(rec, start, end)` for each (the
 * `rec` object is reused; `start`/`end` delimit the whole framed record). Returns the record
 * count. Throws ERR_SPOOL_RECORD_INVALID at the first bad record, after the earlier ones.
 */
export function iterateSpoolRecords(plaintext: Uint8Array, cb: (rec: SpoolRecordView, start: number, end: number) => void): number {
  const v = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  const rec: SpoolRecordView = { kind: RecordKind.Packet, flags: 0, linkType: 0, ifIndex: 0, tsSec: 0, tsNsec: 0, origLen: 0, capLen: 0, data: plaintext.subarray(0, 0) };
  const end = plaintext.length;
  let off = 0;
  let index = 0;
  while (off < end) {
    if (end - off < SPOOL_RECORD_HEADER_BYTES) throw recordInvalid('truncated header', off, index);
    const kind = v.getUint8(off);
    const flags = v.getUint8(off + 1);
    const linkType = v.getUint16(off + 2, true);
    const capLen = v.getUint32(off + 20, true);
    const tsNsec = v.getUint32(off + 12, true);
    if (kind !== RecordKind.Packet && kind !== RecordKind.FlowDatagram) throw recordInvalid('unknown kind', off, index);
    if (flags !== 0) throw recordInvalid('unknown flags', off, index);
    if (tsNsec >= 1e9) throw recordInvalid('nanoseconds out of range', off, index);
    if (capLen > SPOOL_MAX_BODY_BYTES) throw recordInvalid('body too large', off, index);
    if (kind === RecordKind.FlowDatagram && (capLen < SPOOL_DATAGRAM_ADDRESS_BYTES || linkType !== 0)) throw recordInvalid('bad datagram framing', off, index);
    const next = off + SPOOL_RECORD_HEADER_BYTES + capLen;
    if (next > end) throw recordInvalid('truncated body', off, index);
    rec.kind = kind;
    rec.flags = flags;
    rec.linkType = linkType;
    rec.ifIndex = v.getUint32(off + 4, true);
    rec.tsSec = v.getUint32(off + 8, true);
    rec.tsNsec = tsNsec;
    rec.origLen = v.getUint32(off + 16, true);
    rec.capLen = capLen;
    rec.data = plaintext.subarray(off + SPOOL_RECORD_HEADER_BYTES, next);
    cb(rec, off, next);
    off = next;
    index++;
  }
  return index;
}

// ---------------------------------------------------------------- sealed segments

export const SEGMENT_MAGIC = 'FSSPOOL1';
export const SEGMENT_FORMAT_VERSION = 1;
/** RFC 9180 §7 identifiers of the one suite the spool uses. */
export const SpoolSuite = { kemId: 0x0020, kdfId: 0x0001, aeadId: 0x0002 } as const;
export const SPOOL_SUITE_NAMES = { kem: 'DHKEM(X25519, HKDF-SHA256)', kdf: 'HKDF-SHA256', aead: 'AES-256-GCM' } as const;
/** Fixed part of the segment header, before the run id and enc. */
export const SEGMENT_HEADER_FIXED_BYTES = 50;
export const SEGMENT_ENC_BYTES = 32;
export const KEY_ID_BYTES = 16;
/** Largest plaintext per chunk (1 MiB). */
export const SPOOL_CHUNK_MAX_PLAINTEXT = 1 << 20;
export const AEAD_TAG_BYTES = 16;
export const SPOOL_CHUNK_MAX_CIPHERTEXT = SPOOL_CHUNK_MAX_PLAINTEXT + AEAD_TAG_BYTES;
export const SPOOL_CHUNK_AAD_BYTES = 5;
/** Longest segment header: the fixed part, a run id of at most 255 bytes, and enc. */
export const SEGMENT_HEADER_MAX_BYTES = SEGMENT_HEADER_FIXED_BYTES + 255 + SEGMENT_ENC_BYTES;
/** Most record bytes a writer may put in one segment (`--segment-bytes`, 32 MiB). */
export const SEGMENT_MAX_RECORD_BYTES = 32 * 1024 * 1024;
/**
 * Largest segment file the processor opens: the record bytes of a full segment plus its one
 * overflowing record, chunk tags and framing, with room to spare. Anything larger was not
 * written by ingest and is refused before it is read (ERR_SPOOL_TOO_LARGE).
 */
export const SEGMENT_MAX_FILE_BYTES = 2 * SEGMENT_MAX_RECORD_BYTES;

export { RunId };

/** The decoded segment header (everything but `enc`). */
export const SegmentHeader = z.strictObject({
  formatVersion: z.literal(SEGMENT_FORMAT_VERSION),
  kemId: z.literal(SpoolSuite.kemId),
  kdfId: z.literal(SpoolSuite.kdfId),
  aeadId: z.literal(SpoolSuite.aeadId),
  /** Recipient key id: hex of the first 16 bytes of SHA-256(raw public key). */
  keyId: z.string().regex(/^[0-9a-f]{32}$/),
  runId: RunId,
  seq: z.number().int().min(0).max(0xffff_ffff),
  /** True on the last segment of a run. */
  final: z.boolean(),
  /** Milliseconds since the epoch. */
  createdAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});
export type SegmentHeader = z.infer<typeof SegmentHeader>;

const MAGIC_BYTES = new TextEncoder().encode(SEGMENT_MAGIC);

/** Lowercase hex of bytes. */
export function hexOf(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function bytesOfHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Serializes a header with its `enc` (see segmentInfo for the HPKE info). Throws TypeError on bad fields. */
export function encodeSegmentHeader(h: SegmentHeader, enc: Uint8Array): Uint8Array {
  const parsed = SegmentHeader.safeParse(h);
  if (!parsed.success) throw new TypeError('segment header: invalid fields');
  if (enc.length !== SEGMENT_ENC_BYTES) throw new TypeError('segment header: bad enc length');
  const run = new TextEncoder().encode(h.runId);
  const out = new Uint8Array(SEGMENT_HEADER_FIXED_BYTES + run.length + enc.length);
  const v = new DataView(out.buffer);
  out.set(MAGIC_BYTES, 0);
  v.setUint16(8, h.formatVersion, true);
  v.setUint16(10, out.length, true);
  v.setUint16(12, h.kemId, true);
  v.setUint16(14, h.kdfId, true);
  v.setUint16(16, h.aeadId, true);
  v.setUint8(18, h.final ? 1 : 0);
  v.setUint8(19, run.length);
  v.setUint32(20, h.seq, true);
  v.setUint32(24, h.createdAt % 0x1_0000_0000, true);
  v.setUint32(28, Math.floor(h.createdAt / 0x1_0000_0000), true);
  out.set(bytesOfHex(h.keyId), 32);
  v.setUint16(48, enc.length, true);
  out.set(run, SEGMENT_HEADER_FIXED_BYTES);
  out.set(enc, SEGMENT_HEADER_FIXED_BYTES + run.length);
  return out;
}

export interface DecodedSegmentHeader {
  header: SegmentHeader;
  enc: Uint8Array;
  /** The exact header bytes; the body starts at `headerBytes.length`. */
  headerBytes: Uint8Array;
  /** The HPKE `info`: the header without its trailing `enc`. */
  info: Uint8Array;
}

/** The HPKE `info` of an encoded header: all of it but the trailing `enc`. */
export function segmentInfo(headerBytes: Uint8Array): Uint8Array {
  return headerBytes.subarray(0, headerBytes.length - SEGMENT_ENC_BYTES);
}

function badHeader(msg: string): AppError {
  return new AppError(ErrorCode.SpoolBadHeader, `spool segment header: ${msg}`);
}

/** Parses and bounds-checks a segment header. Throws ERR_SPOOL_BAD_HEADER. Not authenticated yet. */
export function decodeSegmentHeader(bytes: Uint8Array): DecodedSegmentHeader {
  if (bytes.length < SEGMENT_HEADER_FIXED_BYTES) throw badHeader('too short');
  for (let i = 0; i < MAGIC_BYTES.length; i++) if (bytes[i] !== MAGIC_BYTES[i]) throw badHeader('bad magic');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const formatVersion = v.getUint16(8, true);
  if (formatVersion !== SEGMENT_FORMAT_VERSION) throw badHeader('unsupported format version');
  const headerLength = v.getUint16(10, true);
  const flags = v.getUint8(18);
  const runLen = v.getUint8(19);
  const encLen = v.getUint16(48, true);
  if (flags & ~1) throw badHeader('unknown flags');
  if (encLen !== SEGMENT_ENC_BYTES) throw badHeader('bad enc length');
  if (headerLength !== SEGMENT_HEADER_FIXED_BYTES + runLen + encLen) throw badHeader('inconsistent header length');
  if (headerLength > bytes.length) throw badHeader('too short');
  let runId = '';
  for (let i = 0; i < runLen; i++) runId += String.fromCharCode(bytes[SEGMENT_HEADER_FIXED_BYTES + i]!);
  const candidate = {
    formatVersion,
    kemId: v.getUint16(12, true),
    kdfId: v.getUint16(14, true),
    aeadId: v.getUint16(16, true),
    keyId: hexOf(bytes.subarray(32, 48)),
    runId,
    seq: v.getUint32(20, true),
    final: (flags & 1) === 1,
    createdAt: v.getUint32(28, true) * 0x1_0000_0000 + v.getUint32(24, true),
  };
  const parsed = SegmentHeader.safeParse(candidate);
  if (!parsed.success) throw badHeader(`invalid field ${String(parsed.error.issues[0]?.path[0] ?? '?')}`);
  const headerBytes = bytes.subarray(0, headerLength);
  return { header: parsed.data, enc: headerBytes.subarray(headerLength - encLen), headerBytes, info: headerBytes.subarray(0, headerLength - encLen) };
}

/** AAD of chunk `index`: u32 LE index ‖ u8 final flag. */
export function chunkAad(index: number, final: boolean): Uint8Array {
  const aad = new Uint8Array(SPOOL_CHUNK_AAD_BYTES);
  new DataView(aad.buffer).setUint32(0, index, true);
  aad[4] = final ? 1 : 0;
  return aad;
}

// ---------------------------------------------------------------- files

/** `<runId>-<seq padded to 8>.seg` (in `<spool>/segments/`). */
export function segmentFileName(runId: string, seq: number): string {
  return `${runId}-${String(seq).padStart(8, '0')}.seg`;
}

/** Parses a published segment file name; null for anything else (temp files included). */
export function parseSegmentFileName(name: string): { runId: string; seq: number } | null {
  const m = /^([A-Za-z0-9_-]{1,64})-(\d{8,10})\.seg$/.exec(name);
  if (!m) return null;
  const seq = Number(m[2]);
  return seq <= 0xffff_ffff ? { runId: m[1]!, seq } : null;
}

export const PUBLIC_KEY_FILE_NAME = 'processor-key.json';

/** `<spool>/processor-key.json`: the processor's public key. Holds no private material. */
export const ProcessorPublicKeyFile = z.strictObject({
  version: z.literal(1),
  suite: z.strictObject({
    kem: z.literal(SPOOL_SUITE_NAMES.kem),
    kdf: z.literal(SPOOL_SUITE_NAMES.kdf),
    aead: z.literal(SPOOL_SUITE_NAMES.aead),
    kemId: z.literal(SpoolSuite.kemId),
    kdfId: z.literal(SpoolSuite.kdfId),
    aeadId: z.literal(SpoolSuite.aeadId),
  }),
  /** Raw X25519 public key, base64url without padding (32 bytes → 43 characters). */
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  keyId: z.string().regex(/^[0-9a-f]{32}$/),
  createdAt: z.string(),
});
export type ProcessorPublicKeyFile = z.infer<typeof ProcessorPublicKeyFile>;

/** base64url without padding (RFC 4648 §5). */
export function base64UrlEncode(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Inverse of base64UrlEncode; throws DOMException on characters outside the alphabet. */
export function base64UrlDecode(text: string): Uint8Array {
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Key id: hex of the first 16 bytes of SHA-256(raw public key). */
export async function computeKeyId(publicKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', publicKey as Uint8Array<ArrayBuffer>));
  return hexOf(digest.subarray(0, KEY_ID_BYTES));
}

/**
 * Run-end marker `<spool>/segments/<runId>.end` ({ segments: n }), written by ingest after the
 * final segment. Unauthenticated on purpose: it is only a hint that lets the processor finish
 * a run whose final segment was rejected (tampered) instead of waiting for it forever. Forging
 * one can end a run early; its later segments are then refused as replays, never duplicated.
 */
export const RunEndMarker = z.strictObject({ segments: z.number().int().min(0).max(0xffff_ffff) });
export type RunEndMarker = z.infer<typeof RunEndMarker>;

export function runEndMarkerName(runId: string): string {
  return `${RunId.parse(runId)}.end`;
}

/**
 * Run heartbeat `<spool>/segments/<runId>.alive`: ingest touches it every
 * `RUN_HEARTBEAT_INTERVAL_MS` while the run is open and removes it at the end, so the processor
 * can tell a quiet live capture (fresh heartbeat) from a capture side that died (stale).
 */
export const RUN_HEARTBEAT_INTERVAL_MS = 5_000;

export function runHeartbeatName(runId: string): string {
  return `${RunId.parse(runId)}.alive`;
}

// ---------------------------------------------------------------- collector losses

/**
 * Run collector report `<spool>/segments/<runId>.collector`, written by the NetFlow/IPFIX
 * collector (`ingest netflow --listen`) while a run is open, whenever its counts change (at
 * most once a second), and a last time (`final`) before the run's final segment is published:
 * the datagrams it received and those lost before the spool, by cause. For the processor's
 * manifest counts (collector_datagrams, collector_queue_drops, collector_kernel_drops,
 * collector_unread_at_close_bytes), so an archive says what its run never saw.
 * Unauthenticated, like the quota file: a report. Forging one can only misreport these counts.
 */
export const RunCollector = z.strictObject({
  /** Datagrams the socket delivered. */
  datagrams: z.number().int().nonnegative(),
  /** Dropped because the queue between socket and spool writer was full. */
  queueDrops: z.number().int().nonnegative(),
  /** Dropped by the kernel for a full receive buffer; null where it cannot be read. */
  kernelDrops: z.number().int().nonnegative().nullable(),
  /** Kernel bytes still unread when the socket closed (lost with it); null until the end or where unknown. */
  unreadAtCloseBytes: z.number().int().nonnegative().nullable(),
  /** True once the run's socket is closed: the counts are final. */
  final: z.boolean(),
});
export type RunCollector = z.infer<typeof RunCollector>;

export function runCollectorName(runId: string): string {
  return `${RunId.parse(runId)}.collector`;
}

// ---------------------------------------------------------------- spool quota

/** What ingest does when the spool reaches its size limit (`--spool-full`). */
export const SpoolFullPolicy = z.enum(['pause', 'drop-oldest']);
export type SpoolFullPolicy = z.infer<typeof SpoolFullPolicy>;

/** Most dropped segment numbers a quota file lists (the count goes on beyond it). */
export const QUOTA_DROPPED_LIST_MAX = 10_000;

/**
 * Run quota file `<spool>/segments/<runId>.quota`, written by ingest whenever its spool quota
 * acts (the sealed design's ring buffer): how often and how long it paused (backpressure), and
 * which of its not yet processed segments it dropped, oldest first. Unauthenticated, like the
 * run-end marker: a hint and a report. Forging one can only make the processor stop waiting for
 * segments it claims were dropped (which it would give up on after its gap timeout anyway) and
 * misreport these counts in the manifest (spool_quota_*).
 */
export const RunQuota = z.strictObject({
  policy: SpoolFullPolicy,
  pauses: z.number().int().nonnegative(),
  pausedMs: z.number().int().nonnegative(),
  droppedSegments: z.number().int().nonnegative(),
  dropped: z.array(z.number().int().min(0).max(0xffff_ffff)).max(QUOTA_DROPPED_LIST_MAX),
});
export type RunQuota = z.infer<typeof RunQuota>;

export function runQuotaName(runId: string): string {
  return `${RunId.parse(runId)}.quota`;
}

/**
 * Run progress file `<spool>/segments/<runId>.fed` ({ through: seq }), written by the processor
 * after each segment it took: segments up to `through` are processed (they stay in the spool
 * for replay until the run is finished). Ingest's `drop-oldest` drops only later ones.
 */
export const RunProgress = z.strictObject({ through: z.number().int().min(0).max(0xffff_ffff) });
export type RunProgress = z.infer<typeof RunProgress>;

export function runProgressName(runId: string): string {
  return `${RunId.parse(runId)}.fed`;
}
