/**
 * In-memory `AuditSink` for tests and demos: keeps entries in an array.
 *
 * Owns: nothing but the array. Never: used where the audit trail must survive a restart.
 */
import type { AuditEntry, AuditSink } from '../ports.ts';

export interface MemoryAuditSink extends AuditSink {
  readonly entries: AuditEntry[];
}

/** Creates an empty in-memory sink. */
export function createMemoryAuditSink(): MemoryAuditSink {
  const entries: AuditEntry[] = [];
  return {
    entries,
    async write(entry) {
      entries.push(entry);
    },
  };
}
