/**
 * Node `AuditSink` appending one JSON line per request to a file (created 0600, directory
 * created if missing). Writes are serialized so lines never interleave.
 *
 * Owns: the audit file. Never: writes anything but the `AuditEntry` it is given (no tokens).
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEntry, AuditSink } from '../ports.ts';

/** Creates the sink; the file is opened per write (append), so log rotation by rename works. */
export function createNdjsonAuditSink(path: string): AuditSink {
  let chain: Promise<void> = mkdir(dirname(path), { recursive: true, mode: 0o700 }).then(() => undefined);
  return {
    write(entry: AuditEntry) {
      const line = `${JSON.stringify(entry)}\n`;
      const next = chain.then(() => appendFile(path, line, { mode: 0o600 }));
      chain = next.catch(() => undefined);
      return next;
    },
  };
}
