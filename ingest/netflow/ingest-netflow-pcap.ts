/**
 * `flowseal ingest netflow --pcap <file|->`: replays captured flow export. Every UDP datagram
 * in the capture (to any port, or only to `--port`) is sealed as a flow-export datagram record,
 * exactly as the live collector would have: exporter = the UDP source address and port,
 * receive time = the packet's timestamp.
 *
 * Owns: wiring capture reader → UDP extractor (udp-extract.ts) → spool writer, and the counts
 * of frames that carried no whole datagram (by reason: not IP, not UDP, IP fragment,
 * truncated, malformed, unsupported link type, other port). A datagram the capture cut short
 * (snap length) is still sealed, with `origLen` saying how long it was, and counted as
 * `payload_truncated`. Damaged captures end the run as packet ingest does (what came before is
 * sealed, then the error is rethrown). Never: decodes or logs payload bytes or addresses.
 */
import { isAppError } from '../../schemas/errors.ts';
import { RecordKind, SPOOL_DATAGRAM_ADDRESS_BYTES, type SpoolRecordInput } from '../../schemas/spool.ts';
import { CaptureReader, type CaptureRecord } from '../capture/capture-reader.ts';
import { endRunAfterReadError, openCaptureRun, type CaptureInput } from '../capture-input.ts';
import { openDecompressed } from '../capture/capture-decompress.ts';
import { ProgressReporter, type ProgressOptions } from '../progress-reporter.ts';
import { writeRunEndMarker } from '../spool/run-end-marker.ts';
import { startRunHeartbeat } from '../spool/run-heartbeat.ts';
import { SpoolWriter } from '../spool/spool-writer.ts';
import { DatagramBody } from './datagram-body.ts';
import { extractUdp, newUdpDatagram, UdpSkipReason, UdpStatus } from './udp-extract.ts';

export interface IngestNetflowPcapOptions {
  /** Capture path or '-' for stdin. */
  input: string;
  /** Only datagrams to this UDP destination port; default any. */
  port?: number;
  spoolDir: string;
  runId?: string;
  log: (obj: object) => void;
  stdin?: AsyncIterable<Uint8Array>;
  segmentMaxBytes?: number;
  /** Spool size limit and policy (`--spool-max`, `--spool-full`); default none. */
  spoolQuota?: { maxBytes: number; policy: 'pause' | 'drop-oldest' } | undefined;
  progress?: ProgressOptions;
}

export interface IngestNetflowPcapResult {
  runId: string;
  /** Frames in the capture. */
  packets: number;
  /** Datagrams sealed (= records). */
  datagrams: number;
  records: number;
  segments: number;
  bytes: number;
  inputBytes: number;
  /** Frames not sealed, by reason (all present, zeros included). */
  skipped: Record<string, number>;
  /** Datagrams sealed although the capture cut them short. */
  payloadTruncated: number;
  /** What the spool quota did (pauses, drops), when one was set. */
  quota?: { pauses: number; pausedMs: number; droppedSegments: number };
}

interface PcapRunState {
  skipped: Record<string, number>;
  datagrams: number;
  payloadTruncated: number;
  inputBytes: number;
  last: Promise<void>;
}

function zeroSkips(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of UdpSkipReason) if (r) out[r] = 0;
  out.other_port = 0;
  return out;
}

/**
 * Ingests one capture of export traffic as one run. Throws ERR_INPUT_* / ERR_SPOOL_NO_PUBLIC_KEY
 * before reading, ERR_CAPTURE_* after sealing what came before the damage.
 */
export async function runIngestNetflowPcap(opts: IngestNetflowPcapOptions): Promise<IngestNetflowPcapResult> {
  const { input, writer } = await openCaptureRun(opts.input, opts.stdin, opts.spoolDir, {
    ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
    ...(opts.segmentMaxBytes !== undefined ? { segmentMaxBytes: opts.segmentMaxBytes } : {}),
    ...(opts.spoolQuota ? { quota: { ...opts.spoolQuota, log: (e: Record<string, unknown>) => opts.log(e) } } : {}),
  });
  opts.log({ event: 'ingest-start', runId: writer.runId, source: input.source, kind: 'netflow', port: opts.port ?? 'any' });
  const stopHeartbeat = await startRunHeartbeat(opts.spoolDir, writer.runId);
  try {
    return await ingestInto(opts, input, writer);
  } finally {
    await stopHeartbeat();
  }
}

async function ingestInto(opts: IngestNetflowPcapOptions, input: CaptureInput, writer: SpoolWriter): Promise<IngestNetflowPcapResult> {
  const st: PcapRunState = { skipped: zeroSkips(), datagrams: 0, payloadTruncated: 0, inputBytes: 0, last: Promise.resolve() };
  const body = new DatagramBody();
  const udp = newUdpDatagram();
  const rec: SpoolRecordInput = { kind: RecordKind.FlowDatagram, linkType: 0, ifIndex: 0, tsSec: 0, tsNsec: 0, origLen: 0, data: new Uint8Array(0) };
  const wantPort = opts.port ?? -1;
  // One view per backing buffer (the reader hands out views into its chunk or its stash),
  // not one per frame: offsets below are into the whole buffer.
  let buffer: ArrayBufferLike | null = null;
  let view: DataView = new DataView(new ArrayBuffer(0));
  let bytes: Uint8Array = new Uint8Array(0);
  const reader = new CaptureReader((frame: CaptureRecord) => {
    const data = frame.data;
    if (data.buffer !== buffer) {
      buffer = data.buffer;
      view = new DataView(buffer);
      bytes = new Uint8Array(buffer);
    }
    const status = extractUdp(view, data.byteOffset, data.byteOffset + data.length, frame.linkType, udp);
    if (status !== UdpStatus.Ok) {
      st.skipped[UdpSkipReason[-status]!]!++;
      return;
    }
    if (wantPort >= 0 && udp.dstPort !== wantPort) {
      st.skipped.other_port!++;
      return;
    }
    if (udp.family === 4) body.setExporterV4(udp.srcV4);
    else body.setExporterV6(bytes, udp.srcV6Offset);
    rec.data = body.withPayload(bytes.subarray(udp.payloadOffset, udp.payloadOffset + udp.payloadCaptured));
    rec.ifIndex = udp.srcPort;
    rec.tsSec = frame.tsSec;
    rec.tsNsec = frame.tsNsec;
    rec.origLen = SPOOL_DATAGRAM_ADDRESS_BYTES + udp.payloadLength;
    if (udp.payloadCaptured < udp.payloadLength) st.payloadTruncated++;
    st.last = writer.append(rec);
    st.datagrams++;
  });
  const skippedNow = () => {
    let n = 0;
    for (const k in st.skipped) n += st.skipped[k]!;
    return n;
  };
  const progress = new ProgressReporter('ingest netflow', 'packets', () => ({ units: reader.stats.records, records: st.datagrams, bytes: st.inputBytes, drops: 0, extra: { skipped: skippedNow() } }), opts.progress);
  progress.start();
  try {
    return await readAll(opts, input, writer, reader, st, progress.wrapLog(opts.log));
  } finally {
    progress.stop();
  }
}

async function readAll(opts: IngestNetflowPcapOptions, input: CaptureInput, writer: SpoolWriter, reader: CaptureReader, st: PcapRunState, log: (obj: object) => void): Promise<IngestNetflowPcapResult> {
  try {
    // Saved export ships compressed too (gzip/zstd/xz, detected by magic).
    const decoded = await openDecompressed(input.stream);
    for await (const chunk of decoded.stream) {
      st.inputBytes += chunk.length;
      reader.push(chunk);
      await st.last;
    }
    reader.end();
    await st.last;
  } catch (e) {
    await input.close();
    if (isAppError(e) && e.code.startsWith('ERR_CAPTURE_')) log({ event: 'capture-error', code: e.code, records: reader.stats.records, offset: reader.offset });
    await endRunAfterReadError(e, writer, opts.spoolDir, log, { skipped: st.skipped });
    throw e;
  }
  await input.close();
  const res = await writer.close();
  await writeRunEndMarker(opts.spoolDir, writer.runId, res.segments);
  log({ event: 'capture-read', format: reader.format, ...reader.stats });
  const q = writer.quota;
  return {
    runId: writer.runId,
    packets: reader.stats.records,
    datagrams: st.datagrams,
    records: res.records,
    segments: res.segments,
    bytes: res.bytes,
    inputBytes: st.inputBytes,
    skipped: st.skipped,
    payloadTruncated: st.payloadTruncated,
    ...(q ? { quota: { pauses: q.pauses, pausedMs: q.pausedMs, droppedSegments: q.droppedSegments } } : {}),
  };
}
