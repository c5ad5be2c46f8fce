/**
 * Seals one spool segment: one HPKE base-mode sender context per segment (RFC 9180 §5.1,
 * fresh ephemeral key → `enc` in the header; the rest of the header is the `info`), then
 * each chunk sealed in order (§5.2 nonce sequence) with AAD = u32 chunk index ‖ u8 final.
 *
 * Owns: producing the header bytes and the framed chunks (`u32 length ‖ ciphertext`, in two parts). Pure
 * apart from Web Crypto. Never: opens anything — a sender context has no `open`, and once a
 * segment is finished the context is dropped.
 */
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, type SenderContext } from '@hpke/core';
import {
  chunkAad,
  encodeSegmentHeader,
  SEGMENT_ENC_BYTES,
  SEGMENT_FORMAT_VERSION,
  segmentInfo,
  SPOOL_CHUNK_MAX_PLAINTEXT,
  SpoolSuite,
} from '../../schemas/spool.ts';

/** The spool's HPKE suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
export function createSealingSuite(): CipherSuite {
  return new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
}

const suite = createSealingSuite();

export interface SegmentSealerInit {
  recipientPublicKey: CryptoKey;
  keyId: string;
  runId: string;
  seq: number;
  final: boolean;
  /** ms since the epoch. */
  createdAt: number;
}

/** Seals the chunks of one segment, in order. */
export class SegmentSealer {
  /** Header bytes (also the HPKE info): write them first. */
  readonly headerBytes: Uint8Array;
  readonly final: boolean;
  #ctx: SenderContext | null;
  #index = 0;

  private constructor(headerBytes: Uint8Array, final: boolean, ctx: SenderContext) {
    this.headerBytes = headerBytes;
    this.final = final;
    this.#ctx = ctx;
  }

  /** Starts a segment: fresh ephemeral key, header bound as `info`. */
  static async start(init: SegmentSealerInit): Promise<SegmentSealer> {
    const header = {
      formatVersion: SEGMENT_FORMAT_VERSION,
      ...SpoolSuite,
      keyId: init.keyId,
      runId: init.runId,
      seq: init.seq,
      final: init.final,
      createdAt: init.createdAt,
    } as const;
    // The info is the header without `enc` (known before the context exists); HPKE then
    // generates the ephemeral key and returns `enc`, which completes the header.
    const headerBytes = encodeSegmentHeader(header, new Uint8Array(SEGMENT_ENC_BYTES));
    const ctx = await suite.createSenderContext({ recipientPublicKey: init.recipientPublicKey, info: segmentInfo(headerBytes) });
    headerBytes.set(new Uint8Array(ctx.enc), headerBytes.length - SEGMENT_ENC_BYTES);
    return new SegmentSealer(headerBytes, init.final, ctx);
  }

  /** Chunks sealed so far. */
  get chunks(): number {
    return this.#index;
  }

  /**
   * Seals the next chunk (≤ 1 MiB plaintext); `last` marks the segment's final chunk, after
   * which the sealer is spent. Returns the framed chunk in two parts, to be written in order:
   * `u32 LE length` and the ciphertext (not joined: that would copy every sealed MiB again).
   */
  async seal(plaintext: Uint8Array, last: boolean): Promise<[Uint8Array, Uint8Array]> {
    if (!this.#ctx) throw new TypeError('SegmentSealer: segment already finished');
    if (plaintext.length > SPOOL_CHUNK_MAX_PLAINTEXT) throw new TypeError('SegmentSealer: chunk too large');
    // @hpke/core copies any view into a fresh ArrayBuffer first; a view of a whole buffer can
    // go in as that buffer (the same bytes), which saves a MiB copy per chunk.
    const whole = plaintext.byteOffset === 0 && plaintext.byteLength === plaintext.buffer.byteLength && plaintext.buffer instanceof ArrayBuffer;
    const ct = new Uint8Array(await this.#ctx.seal(whole ? (plaintext.buffer as ArrayBuffer) : plaintext, chunkAad(this.#index, last)));
    this.#index++;
    if (last) this.#ctx = null;
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, ct.length, true);
    return [length, ct];
  }
}
