/**
 * The sealed processor's worker process: reads frames from the supervisor on stdin, decodes
 * records, assembles flows, anonymizes them and stages Parquet files; reports on stdout.
 *
 * Owns: the parsing attack surface. It never holds the spool key (the supervisor decrypts),
 * never writes outside its staging directory, and reports only counts, record indexes and
 * error codes — never an address, name or payload byte. A parser exception is caught per
 * frame (not per packet), reported as a poison record with its index, and ends the process;
 * the supervisor decides (supervisor/crash-ledger.ts) whether that record is poison. Test-only
 * fault injection lives in test-faults.ts (inert unless NODE_ENV=test and FLOWSEAL_FAULT).
 */
import { AppError, ErrorCode, isAppError } from '../../schemas/errors.ts';
import { CutRequest, FrameDecoder, FrameType, SegmentStart, WorkerConfig, type WorkerEvent } from './protocol.ts';
import { checkpointPath, restoreCheckpoint, writeCheckpoint } from './worker-checkpoint.ts';
import { RecordProcessor } from './record-processor.ts';
import { tunnelModeOf } from './flow-producers.ts';
import type { AnonFlowRow } from '../flows/flow-record.ts';
import { ParquetSink } from '../sinks/parquet-sink.ts';
import { createFlowAnonymizer } from '../anonymize/flow-anonymizer.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { ArchiveKv, partSuffix } from '../../schemas/archive.ts';
import { policyHash } from '../../schemas/policy.ts';
import { checkpointWriteFails, faultHookFromEnv } from './test-faults.ts';

/** Opens the sink of part `part`: its files go to `<stagingDir><partSuffix(part)>`. */
function openPartSink(config: WorkerConfig, keyId: string, part: number): Promise<ParquetSink> {
  return ParquetSink.open({
    stagingDir: `${config.stagingDir}${partSuffix(part)}`,
    runId: config.runId,
    part,
    metadata: {
      [ArchiveKv.schemaVersion]: String(SCHEMA_VERSION),
      [ArchiveKv.policyHash]: policyHash(config.policy),
      [ArchiveKv.keyId]: keyId,
      [ArchiveKv.runId]: config.runId,
      [ArchiveKv.part]: String(part),
      'flowseal.dataset': config.dataset,
      'flowseal.processor': config.processorVersion,
    },
    ...(config.flushRows ? { flushRows: config.flushRows } : {}),
  });
}

/** Closes `sink` and describes its part (files, rows, time range) with the counters so far. */
async function closePart(sink: ParquetSink, processor: RecordProcessor, part: number) {
  const files = await sink.finish();
  let t0: string | null = null;
  let t1: string | null = null;
  for (const f of files) {
    if (f.timeStart && (!t0 || f.timeStart < t0)) t0 = f.timeStart;
    if (f.timeEnd && (!t1 || f.timeEnd > t1)) t1 = f.timeEnd;
  }
  return { part, flows: files.reduce((n, f) => n + f.rows, 0), files, counts: processor.counts(), releaseNotes: processor.releaseNotes(), timeStart: t0, timeEnd: t1 };
}

function emit(ev: WorkerEvent): void {
  // stdout is a pipe: writes are synchronous on Linux, so an ack is out before the next record.
  process.stdout.write(`${JSON.stringify(ev)}\n`);
}

async function main(): Promise<number> {
  const decoder = new FrameDecoder();
  const frames: [number, Uint8Array][] = [];
  let processor: RecordProcessor | null = null;
  let sink: ParquetSink | null = null;
  let config: WorkerConfig | null = null;
  let keyId = '';
  let part = 1;
  let committedThrough = -1;
  let checkpointKey: Uint8Array | null = null;
  let segment: SegmentStart | null = null;
  let skip = new Set<number>();
  let indexInSegment = 0;
  let recordsInSegment = 0;
  const fault = faultHookFromEnv();
  const stageRow = (row: AnonFlowRow): void => sink!.stage(row);
  const countReplayed = (): void => processor!.countReplayed(1);

  for await (const chunk of process.stdin) {
    decoder.push(chunk as Uint8Array, (t, p) => frames.push([t, p]));
    while (frames.length) {
      const [type, payload] = frames.shift()!;
      switch (type) {
        case FrameType.Config: {
          config = WorkerConfig.parse(JSON.parse(new TextDecoder().decode(payload)));
          const masterKey = Uint8Array.from(Buffer.from(config.masterKeyHex, 'hex'));
          const anonymizer = createFlowAnonymizer(config.policy, masterKey);
          keyId = anonymizer.keyId;
          part = config.firstPart ?? 1;
          committedThrough = config.committedThroughSegment ?? -1;
          processor = new RecordProcessor(anonymizer, {}, tunnelModeOf(config.policy));
          checkpointKey = config.checkpointKeyHex ? Uint8Array.from(Buffer.from(config.checkpointKeyHex, 'hex')) : null;
          if (config.restoreThrough !== undefined && config.restoreThrough !== null) {
            if (!checkpointKey) throw new AppError(ErrorCode.ProcessorCheckpointInvalid, 'restore without a checkpoint key');
            await restoreCheckpoint(processor, checkpointPath(config.stagingDir, config.restoreThrough), checkpointKey, config.runId, config.restoreThrough, config.restoreDigest ?? null);
          }
          sink = await openPartSink(config, keyId, part);
          emit({ type: 'ready' });
          break;
        }
        case FrameType.Segment: {
          if (segment && processor) emit({ type: 'segment-done', seq: segment.seq, records: recordsInSegment });
          segment = SegmentStart.parse(JSON.parse(new TextDecoder().decode(payload)));
          skip = new Set(segment.skip);
          indexInSegment = segment.firstIndex ?? 0;
          recordsInSegment = 0;
          break;
        }
        case FrameType.Records: {
          if (!processor || !sink || !segment) throw new AppError(ErrorCode.SpoolRecordInvalid, 'records before config/segment');
          const seg = segment;
          // Rows go to the sink as they are made (a frame holds up to 16 MiB of records: kept
          // until the frame's end they were hundreds of thousands of live objects); a replayed
          // committed segment's rows are only counted.
          processor.setRowSink(seg.seq <= committedThrough ? countReplayed : stageRow);
          try {
            const n = processor.processPlaintext(payload, indexInSegment, skip, fault ? (index, data) => fault(seg.seq, index, data) : undefined);
            indexInSegment += n;
            recordsInSegment += n;
          } catch (e) {
            emit({ type: 'poison', seq: seg.seq, index: processor.currentIndex, error: isAppError(e) ? e.code : 'ERR_PARSER_EXCEPTION' });
            return 70;
          }
          await sink.drain();
          // Acknowledged only once its rows are staged: a later failure is not this record's.
          if (seg.careful) emit({ type: 'ack', seq: seg.seq, index: indexInSegment - 1 });
          break;
        }
        case FrameType.Cut: {
          if (!processor || !sink || !config) throw new AppError(ErrorCode.SpoolRecordInvalid, 'cut before config');
          const cut = CutRequest.parse(JSON.parse(new TextDecoder().decode(payload)));
          const report = await closePart(sink, processor, part);
          // The state after the cut, for a later worker to continue from (the supervisor adopts
          // it once the part is committed). A failed write only costs the replay it would save.
          let checkpoint: string | null = null;
          if (checkpointKey && cut.through !== null && !checkpointWriteFails()) {
            checkpoint = await writeCheckpoint(processor, checkpointPath(config.stagingDir, cut.through), checkpointKey, config.runId, cut.through).catch(() => null);
          }
          emit({ type: 'part', ...report, open: processor.openState(), checkpoint });
          // An empty part is not published: the next one keeps its number.
          if (report.files.length > 0) part++;
          sink = await openPartSink(config, keyId, part);
          break;
        }
        case FrameType.Finish: {
          if (!processor || !sink) throw new AppError(ErrorCode.SpoolRecordInvalid, 'finish before config');
          if (segment) emit({ type: 'segment-done', seq: segment.seq, records: recordsInSegment });
          processor.setRowSink(stageRow);
          processor.finish();
          const report = await closePart(sink, processor, part);
          emit({ type: 'done', ...report });
          return 0;
        }
        default:
          throw new AppError(ErrorCode.SpoolRecordInvalid, 'unknown worker frame');
      }
    }
  }
  // stdin closed without FINISH: the supervisor went away; nothing is published.
  return 75;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    emit({ type: 'failed', code: isAppError(e) ? e.code : ErrorCode.ProcessorWorkerFailed });
    process.exit(1);
  },
);
