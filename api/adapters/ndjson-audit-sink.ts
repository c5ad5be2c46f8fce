/**
 * Node `AuditSink` appending one JSON line per request to a file (created 0600, directory
 * created if missing). Writes are serialized so lines never interleave, and group-committed:
 * lines that arrive while an append is in flight go out together in the next one (at most
 * MAX_BATCH_LINES lines / MAX_BATCH_BYTES bytes each), in arrival order. One append per line
 * made every answer in a burst wait for all the appends queued before its own — a hundred
 * refused queries delayed the next answer by a hundred open-write-close rounds. Each `write`
 * still resolves only once its own line is in the file, and rejects with the append's error
 * otherwise, so the audit stays fail-closed.
 *
 * Owns: the audit file. Never: writes anything but the `AuditEntry` it is given (no tokens).
 */
import { appendFile, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { AuditEntry, AuditSink } from '../ports.ts';

/**
 * Opens the sink: creates the directory and checks the file can be appended to before any
 * request is served. The file is opened per write (append), so log rotation by rename works.
 * @throws AppError ERR_AUDIT_UNAVAILABLE naming the path and the system error.
 */
export async function openNdjsonAuditSink(path: string, options: NdjsonAuditOptions = {}): Promise<AuditSink> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await (await open(path, 'a', 0o600)).close();
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause instanceof Error ? cause.message : String(cause));
    throw new AppError(ErrorCode.AuditUnavailable, `audit log ${path} cannot be written (${why})`, { cause });
  }
  return createNdjsonAuditSink(path, options.append ?? ((file, text) => appendFile(file, text, { mode: 0o600 })));
}

export interface NdjsonAuditOptions {
  /** Appends text to the file. Default `fs.appendFile` (mode 0600); tests wrap it to count appends. */
  readonly append?: (path: string, text: string) => Promise<void>;
}

/** Lines per append at most. */
const MAX_BATCH_LINES = 512;
/** Bytes (UTF-16 units) per append at most; a longer single line still goes out alone. */
const MAX_BATCH_BYTES = 1 << 20;

interface PendingLine {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** The sink over a file whose directory exists (see `openNdjsonAuditSink`). */
function createNdjsonAuditSink(path: string, append: (path: string, text: string) => Promise<void>): AuditSink {
  const queue: PendingLine[] = [];
  let writing = false;

  async function drain(): Promise<void> {
    writing = true;
    while (queue.length > 0) {
      let n = 0;
      let size = 0;
      while (n < queue.length && n < MAX_BATCH_LINES && (n === 0 || size + queue[n].line.length <= MAX_BATCH_BYTES)) {
        size += queue[n].line.length;
        n++;
      }
      const batch = queue.splice(0, n);
      try {
        await append(path, batch.map((p) => p.line).join(''));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    writing = false;
  }

  return {
    write(entry: AuditEntry) {
      const line = `${JSON.stringify(entry)}\n`;
      return new Promise<void>((resolve, reject) => {
        queue.push({ line, resolve, reject });
        if (!writing) void drain();
      });
    },
  };
}
