/**
 * Node `AuditSink` appending one JSON line per request to a file (created 0600, directory
 * created if missing). Writes are serialized so lines never interleave.
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
export async function openNdjsonAuditSink(path: string): Promise<AuditSink> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await (await open(path, 'a', 0o600)).close();
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause instanceof Error ? cause.message : String(cause));
    throw new AppError(ErrorCode.AuditUnavailable, `audit log ${path} cannot be written (${why})`, { cause });
  }
  return createNdjsonAuditSink(path);
}

/** The sink over a file whose directory exists (see `openNdjsonAuditSink`). */
function createNdjsonAuditSink(path: string): AuditSink {
  let chain: Promise<void> = Promise.resolve();
  return {
    write(entry: AuditEntry) {
      const line = `${JSON.stringify(entry)}\n`;
      const next = chain.then(() => appendFile(path, line, { mode: 0o600 }));
      chain = next.catch(() => undefined);
      return next;
    },
  };
}
