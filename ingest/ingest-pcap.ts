/**
 * `flowseal ingest pcap`: streams a pcap/pcapng capture (a file, or stdin for `-`) through
 * the CaptureReader into the SpoolWriter, so packets land on disk only sealed to the
 * processor's public key.
 *
 * Owns: wiring, the per-link-type counts and the one-way diagnostics (NDJSON-able objects of
 * counts and codes). On a damaged capture it still closes the writer — records before the
 * damage are sealed and the run gets its final segment, so the processor is not left
 * waiting — and then rethrows the AppError so the command exits non-zero.
 * Never: logs or returns packet bytes, addresses or the input path's content; buffers more
 * than one read chunk plus one spool chunk.
 */
import { writeRunEndMarker } from './spool/run-end-marker.ts';
import { startRunHeartbeat } from './spool/run-heartbeat.ts';
import { open } from 'node:fs/promises';
import { AppError, ErrorCode, isAppError } from '../schemas/errors.ts';
import { RecordKind } from '../schemas/spool.ts';
import { checkCaptureInput, inputError } from './check-input.ts';
import { CaptureReader, type CaptureRecord } from './capture/capture-reader.ts';
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
}

export interface IngestPcapResult {
  runId: string;
  records: number;
  segments: number;
  /** Bytes of sealed segment files written. */
  bytes: number;
  /** Records per pcap LINKTYPE_* value. */
  linkTypes: Record<number, number>;
  /** What the spool quota did (pauses, drops), when one was set. */
  quota?: { pauses: number; pausedMs: number; droppedSegments: number };
}

const READ_CHUNK_BYTES = 256 * 1024;

async function openInput(opts: IngestPcapOptions): Promise<{ stream: AsyncIterable<Uint8Array>; close: () => Promise<void> }> {
  if (opts.input === '-') return { stream: opts.stdin ?? (process.stdin as AsyncIterable<Uint8Array>), close: async () => undefined };
  await checkCaptureInput(opts.input);
  try {
    const fh = await open(opts.input, 'r');
    return { stream: fh.createReadStream({ highWaterMark: READ_CHUNK_BYTES, autoClose: false }), close: () => fh.close() };
  } catch (e) {
    throw inputError(opts.input, (e as NodeJS.ErrnoException).code, e);
  }
}

/**
 * Ingests one capture into the spool as one run. Throws ERR_INPUT_* (naming the path) for a
 * missing, unreadable or non-capture file and ERR_SPOOL_NO_PUBLIC_KEY before
 * reading anything if no processor key is published; ERR_CAPTURE_* (after sealing what came
 * before) for a damaged capture; the writer's error for IO failures (open segment discarded).
 */
export async function runIngestPcap(opts: IngestPcapOptions): Promise<IngestPcapResult> {
  const input = await openInput(opts);
  let writer: SpoolWriter;
  try {
    writer = await SpoolWriter.open(opts.spoolDir, {
      ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
      ...(opts.segmentMaxBytes !== undefined ? { segmentMaxBytes: opts.segmentMaxBytes } : {}),
      ...(opts.segmentMaxAgeMs !== undefined ? { segmentMaxAgeMs: opts.segmentMaxAgeMs } : {}),
      ...(opts.spoolQuota ? { quota: { ...opts.spoolQuota, log: (e: Record<string, unknown>) => opts.log(e) } } : {}),
    });
  } catch (e) {
    await input.close();
    throw e;
  }
  opts.log({ event: 'ingest-start', runId: writer.runId, source: opts.input === '-' ? 'stdin' : 'file' });
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

async function ingestInto(opts: IngestPcapOptions, input: Awaited<ReturnType<typeof openInput>>, writer: SpoolWriter): Promise<IngestPcapResult> {
  const linkTypes: Record<number, number> = {};
  let last: Promise<void> = Promise.resolve();
  const reader = new CaptureReader((rec: CaptureRecord) => {
    linkTypes[rec.linkType] = (linkTypes[rec.linkType] ?? 0) + 1;
    last = writer.append({ kind: RecordKind.Packet, linkType: rec.linkType, ifIndex: rec.ifIndex, tsSec: rec.tsSec, tsNsec: rec.tsNsec, origLen: rec.origLen, data: rec.data });
  });
  try {
    for await (const chunk of input.stream) {
      reader.push(chunk);
      // Wait for sealing triggered by this chunk: backpressure and bounded memory.
      await last;
    }
    reader.end();
    await last;
  } catch (e) {
    await input.close();
    if (isAppError(e) && e.code.startsWith('ERR_CAPTURE_')) {
      opts.log({ event: 'capture-error', code: e.code, records: reader.stats.records, offset: reader.offset });
      const sealed = await writer.close();
      await writeRunEndMarker(opts.spoolDir, writer.runId, sealed.segments);
      opts.log({ event: 'ingest-closed-after-error', runId: writer.runId, ...sealed });
    } else {
      await writer.abort();
    }
    throw e;
  }
  await input.close();
  const res = await writer.close();
  await writeRunEndMarker(opts.spoolDir, writer.runId, res.segments);
  opts.log({ event: 'capture-read', format: reader.format, ...reader.stats });
  const q = writer.quota;
  return { runId: writer.runId, records: res.records, segments: res.segments, bytes: res.bytes, linkTypes, ...(q ? { quota: { pauses: q.pauses, pausedMs: q.pausedMs, droppedSegments: q.droppedSegments } } : {}) };
}
