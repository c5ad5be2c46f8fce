/**
 * `flowseal ingest pcap`: streams a pcap/pcapng capture (a file, or stdin for `-`) through
 * the CaptureReader into the SpoolWriter, so packets land on disk only sealed to the
 * processor's public key.
 *
 * Owns: wiring, the per-link-type counts and the one-way diagnostics (NDJSON-able objects of
 * counts and codes). gzip/zstd/xz-compressed captures are decompressed on the way in
 * (capture/capture-decompress.ts, detected by magic). On a damaged capture — plain or
 * compressed — it still closes the writer — records before the damage are sealed and the run
 * gets its final segment, so the processor is not left waiting — and then rethrows the
 * AppError, its message prefixed with the input's name ('stdin' for '-'), so the command
 * exits non-zero naming the file and what is wrong.
 * Never: logs or returns packet bytes, addresses or the input path's content; buffers more
 * than one read chunk (or one decompressed piece) plus one spool chunk.
 */
import { writeRunEndMarker } from './spool/run-end-marker.ts';
import { startRunHeartbeat } from './spool/run-heartbeat.ts';
import { AppError, isAppError } from '../schemas/errors.ts';
import { RecordKind } from '../schemas/spool.ts';
import { CaptureReader, type CaptureRecord } from './capture/capture-reader.ts';
import { openDecompressed, type Compression } from './capture/capture-decompress.ts';
import { endRunAfterReadError, openCaptureRun, type CaptureInput } from './capture-input.ts';
import { ProgressReporter, type ProgressOptions } from './progress-reporter.ts';
import { SpoolWriter, type SpoolWriterOptions } from './spool/spool-writer.ts';

export interface IngestPcapOptions {
  /** Capture file path, or '-' for standard input. */
  input: string;
  spoolDir: string;
  runId?: string;
  /** Diagnostics sink: counts and codes only. */
  log: (obj: object) => void;
  /** Stream read for '-' (default process.stdin); tests inject one. */
  stdin?: AsyncIterable<Uint8Array>;
  /** Passed to the SpoolWriter (tests use small segments). */
  segmentMaxBytes?: SpoolWriterOptions['segmentMaxBytes'];
  /** Seal a segment whose first record is this old even if it is not full (a quiet live capture); default never. */
  segmentMaxAgeMs?: SpoolWriterOptions['segmentMaxAgeMs'];
  /** Spool size limit and policy (`--spool-max`, `--spool-full`); default none. */
  spoolQuota?: { maxBytes: number; policy: 'pause' | 'drop-oldest' } | undefined;
  /** Periodic progress (packets/s, records/s, bytes); default none. */
  progress?: ProgressOptions;
}

export interface IngestPcapResult {
  runId: string;
  records: number;
  segments: number;
  /** Bytes of sealed segment files written. */
  bytes: number;
  /** Records per pcap LINKTYPE_* value. */
  linkTypes: Record<number, number>;
  /** Capture bytes read (after decompression). */
  inputBytes: number;
  /** How the input was compressed ('none' for a plain capture). */
  compression: Compression;
  /** What the spool quota did (pauses, drops), when one was set. */
  quota?: { pauses: number; pausedMs: number; droppedSegments: number };
}

/** The same AppError with the input named in its message and details (the path as given, or 'stdin'). */
function naming(e: AppError, input: string, compression: Compression | null, compressedBytes: number): AppError {
  const label = input === '-' ? 'stdin' : input;
  const after = compression !== null && compression !== 'none' && !e.code.startsWith('ERR_CAPTURE_COMPRESSED_') && e.details?.compression === undefined ? ` (after ${compression} decompression)` : '';
  const details = { ...e.details, input: label, ...(compression !== null && compression !== 'none' ? { compression, compressedBytes } : {}) };
  return new AppError(e.code, `${label}: ${e.message}${after}`, { cause: e, details });
}

/**
 * Ingests one capture into the spool as one run. Throws ERR_INPUT_* (capture-input.ts, naming
 * the path) for a missing, unreadable or non-capture file and ERR_SPOOL_NO_PUBLIC_KEY if no
 * processor key is published, both before a run is opened; ERR_CAPTURE_* (after sealing what
 * came before) for a damaged capture; the writer's error for IO failures (open segment discarded).
 */
export async function runIngestPcap(opts: IngestPcapOptions): Promise<IngestPcapResult> {
  const { input, writer } = await openCaptureRun(opts.input, opts.stdin, opts.spoolDir, {
    ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
    ...(opts.segmentMaxBytes !== undefined ? { segmentMaxBytes: opts.segmentMaxBytes } : {}),
    ...(opts.segmentMaxAgeMs !== undefined ? { segmentMaxAgeMs: opts.segmentMaxAgeMs } : {}),
    ...(opts.spoolQuota ? { quota: { ...opts.spoolQuota, log: (e: Record<string, unknown>) => opts.log(e) } } : {}),
  });
  opts.log({ event: 'ingest-start', runId: writer.runId, source: input.source });
  const stopHeartbeat = await startRunHeartbeat(opts.spoolDir, writer.runId);
  // A quiet live capture: its last records are sealed by age, not only when the next one comes.
  let aging: Promise<void> = Promise.resolve();
  const ager = opts.segmentMaxAgeMs ? setInterval(() => void (aging = aging.then(() => writer.rotateIfOld()).catch(() => undefined)), Math.max(50, opts.segmentMaxAgeMs / 2)) : null;
  try {
    return await ingestInto(opts, input, writer);
  } finally {
    if (ager) clearInterval(ager);
    await aging;
    await stopHeartbeat();
  }
}

/** What a run counts while it reads; the progress reporter samples it. */
interface PacketRunState {
  linkTypes: Record<number, number>;
  records: number;
  inputBytes: number;
  /** The last append's promise: awaited once per chunk (backpressure, bounded memory). */
  last: Promise<void>;
}

async function ingestInto(opts: IngestPcapOptions, input: CaptureInput, writer: SpoolWriter): Promise<IngestPcapResult> {
  const st: PacketRunState = { linkTypes: {}, records: 0, inputBytes: 0, last: Promise.resolve() };
  const reader = new CaptureReader((rec: CaptureRecord) => {
    st.linkTypes[rec.linkType] = (st.linkTypes[rec.linkType] ?? 0) + 1;
    st.last = writer.append({ kind: RecordKind.Packet, linkType: rec.linkType, ifIndex: rec.ifIndex, tsSec: rec.tsSec, tsNsec: rec.tsNsec, origLen: rec.origLen, data: rec.data });
    st.records++;
  });
  const progress = new ProgressReporter('ingest pcap', 'packets', () => ({ units: reader.stats.records, records: st.records, bytes: st.inputBytes, drops: 0 }), opts.progress);
  progress.start();
  try {
    return await readAll(opts, input, writer, reader, st, progress.wrapLog(opts.log));
  } finally {
    progress.stop();
  }
}

async function readAll(opts: IngestPcapOptions, input: CaptureInput, writer: SpoolWriter, reader: CaptureReader, st: PacketRunState, log: (obj: object) => void): Promise<IngestPcapResult> {
  let decoded: Awaited<ReturnType<typeof openDecompressed>> | null = null;
  try {
    decoded = await openDecompressed(input.stream);
    for await (const chunk of decoded.stream) {
      st.inputBytes += chunk.length;
      reader.push(chunk);
      // Wait for sealing triggered by this chunk: backpressure and bounded memory.
      await st.last;
    }
    reader.end();
    await st.last;
  } catch (e) {
    await input.close();
    if (isAppError(e) && e.code.startsWith('ERR_CAPTURE_')) {
      log({ event: 'capture-error', code: e.code, records: reader.stats.records, offset: reader.offset, ...(decoded && decoded.compression !== 'none' ? { compression: decoded.compression, compressedBytes: decoded.compressedBytes() } : {}) });
    }
    if (await endRunAfterReadError(e, writer, opts.spoolDir, log)) throw naming(e as AppError, opts.input, decoded?.compression ?? null, decoded?.compressedBytes() ?? 0);
    throw e;
  }
  await input.close();
  const res = await writer.close();
  await writeRunEndMarker(opts.spoolDir, writer.runId, res.segments);
  log({ event: 'capture-read', format: reader.format, compression: decoded.compression, ...reader.stats });
  const q = writer.quota;
  return {
    runId: writer.runId,
    records: res.records,
    segments: res.segments,
    bytes: res.bytes,
    linkTypes: st.linkTypes,
    inputBytes: st.inputBytes,
    compression: decoded.compression,
    ...(q ? { quota: { pauses: q.pauses, pausedMs: q.pausedMs, droppedSegments: q.droppedSegments } } : {}),
  };
}
