// Backups, restores and storage re-keying of the data dir: the work is the CLI's; this records who did it (an admin event each).
import type { Actor } from './actor.js';
import type { AdminRecorder } from './recorder.js';
import { checkActor } from './recorder.js';

export class DataAdmin {
  readonly #record: AdminRecorder;

  constructor(recorder: AdminRecorder) {
    this.#record = recorder;
  }

  /** A backup file was written; `changes` say whether it holds the master key and where the chain stood. */
  async backedUp(
    actor: Actor,
    file: string,
    changes: { masterKeyIncluded: boolean; auditHeadSeq: number | null },
  ): Promise<void> {
    checkActor(actor);
    await this.#record.record(actor, 'data.backup', file, changes);
  }

  /** Stored files' data keys were re-wrapped (`ferry storage rekey`); `changes` hold counts and key ids, never keys. */
  async storageRekeyed(
    actor: Actor,
    homes: string,
    changes: { toKeyId: string; rewrapped: number; alreadyCurrent: number; failed: number },
  ): Promise<void> {
    checkActor(actor);
    await this.#record.record(actor, 'storage.rekey', homes, changes);
  }

  /** A backup was restored into this data dir. */
  async restored(
    actor: Actor,
    file: string,
    changes: { createdAt: string; sourceDataDir: string | null },
  ): Promise<void> {
    checkActor(actor);
    await this.#record.record(actor, 'data.restore', file, changes);
  }
}
