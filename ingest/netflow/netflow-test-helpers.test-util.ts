/**
 * TEST-ONLY helpers for the collector's tests: a spool with a processor key, reading back
 * the flow-export datagram records of a run (decrypted with the processor's reader, as the
 * sealed side would), and waiting on progress lines.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatAddressWords } from '../../schemas/ip-address.ts';
import { iterateSpoolRecords, RecordKind } from '../../schemas/spool.ts';
import { generateProcessorKeys, type ProcessorKeys } from '../../sealed-processor/spool/keys.ts';
import { writePublicKey } from '../../sealed-processor/spool/key-file.ts';
import { openSegment } from '../../sealed-processor/spool/spool-reader.ts';
import { listSegments } from '../../sealed-processor/spool/spool-files.ts';

export interface SpooledDatagram {
  /** Exporter address as text (IPv4 for IPv4-mapped addresses). */
  exporter: string;
  port: number;
  tsSec: number;
  tsNsec: number;
  origLen: number;
  payload: Buffer;
}

/** Runs `fn` with `<tmp>/spool` holding a fresh processor public key. */
export async function withSpool(fn: (spoolDir: string, keys: ProcessorKeys, tmp: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-netflow-test-'));
  try {
    const keys = await generateProcessorKeys();
    await writePublicKey(join(dir, 'spool'), keys);
    await fn(join(dir, 'spool'), keys, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every record of run `runId`, in order, decoded as flow-export datagrams; also the final flags. */
export async function readDatagrams(spoolDir: string, keys: ProcessorKeys, runId: string): Promise<{ datagrams: SpooledDatagram[]; finals: boolean[] }> {
  const datagrams: SpooledDatagram[] = [];
  const finals: boolean[] = [];
  for (const s of (await listSegments(spoolDir)).filter((x) => x.runId === runId)) {
    const opened = await openSegment(new Uint8Array(await readFile(join(spoolDir, 'segments', s.name))), keys);
    finals.push(opened.header.final);
    iterateSpoolRecords(opened.plaintext, (r) => {
      if (r.kind !== RecordKind.FlowDatagram || r.linkType !== 0) throw new Error('not a flow-export datagram record');
      const a = Buffer.from(r.data.subarray(0, 16));
      const words = [a.readUInt32BE(0), a.readUInt32BE(4), a.readUInt32BE(8), a.readUInt32BE(12)];
      datagrams.push({ exporter: formatAddressWords(words), port: r.ifIndex, tsSec: r.tsSec, tsNsec: r.tsNsec, origLen: r.origLen, payload: Buffer.from(r.data.subarray(16)) });
    });
  }
  return { datagrams, finals };
}

/** Collects NDJSON lines written by a progress reporter or log sink. */
export function lineSink(): { write: (s: string) => void; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  return {
    write: (s) => void (text += s),
    lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => text,
  };
}

/** Polls `cond` every 10 ms until true, failing after `timeoutMs` with `what`. */
export async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
