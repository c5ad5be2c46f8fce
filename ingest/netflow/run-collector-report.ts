/**
 * Writes the run collector report (schemas/spool.ts `RunCollector`): what the collector
 * received and lost before the spool, for the processor's manifest.
 *
 * Owns: that one small file, written by temp file + atomic rename, and not rewriting it when
 * nothing changed. Never: anything but counts (no address, no payload byte).
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunCollector, runCollectorName } from '../../schemas/spool.ts';

export class RunCollectorReport {
  readonly #path: string;
  #last = '';
  #writing: Promise<void> = Promise.resolve();

  constructor(spoolDir: string, runId: string) {
    this.#path = join(spoolDir, 'segments', runCollectorName(runId));
  }

  /**
   * Writes `report` if it differs from the last one written; writes are serialized, so the
   * file ends with the last call's counts. Rejects on IO failure.
   */
  write(report: RunCollector): Promise<void> {
    const text = JSON.stringify(RunCollector.parse(report));
    if (text === this.#last) return this.#writing;
    this.#last = text;
    this.#writing = this.#writing.then(async () => {
      await writeFile(`${this.#path}.tmp`, text);
      await rename(`${this.#path}.tmp`, this.#path);
    });
    return this.#writing;
  }
}
