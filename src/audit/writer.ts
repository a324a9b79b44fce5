// The audit writer: batches records into one chain-append transaction each, resolves callers after commit, checkpoints.
import { FerryError, toFerryError } from '../errors.js';
import type { FerryEvent } from '../events/types.js';
import type { HealthState } from '../health.js';
import type { Logger } from '../logger.js';
import type { AuditChainHead, AuditRecord, AuditRepository } from '../store/types.js';
import { type AuditFields, GENESIS_HASH, sealRecord } from './chain.js';
import {
  type AdminChange,
  type AuditEntry,
  adminEntry,
  entryFromEvent,
  osActor,
  toAuditFields,
} from './entries.js';
import { type PruneResult, pruneAuditTrail } from './retention.js';
import { type AuditSigner, checkpointMessage } from './signer.js';

export interface AuditWriterOptions {
  readonly repository: AuditRepository;
  readonly log: Logger;
  /** Longest a record waits for company before its batch is committed (default 5 ms). */
  readonly flushDelayMs?: number;
  /** A batch is committed at once when this many records wait (default 256). */
  readonly maxBatch?: number;
  /** Write a checkpoint after this many records (default 1000; 0: not by count). */
  readonly checkpointEveryRecords?: number;
  /** Write a checkpoint this often when records were written since the last (default 10 min; 0: not by time). */
  readonly checkpointEveryMs?: number;
  /** Signs checkpoints (the server's Ed25519 host key); can also be set later with useSigner(). */
  readonly signer?: AuditSigner;
  readonly now?: () => Date;
  /** Told after every batch whether the store could write: degraded (with the reason) or recovered. */
  readonly health?: HealthState;
}

type Pending =
  | {
      readonly kind: 'entry';
      readonly fields: AuditFields;
      resolve(r: AuditRecord): void;
      reject(e: unknown): void;
    }
  | { readonly kind: 'checkpoint'; resolve(r: AuditRecord): void; reject(e: unknown): void };

/** Commit attempts for one batch before its callers are told it failed (the store retries busy locks itself). */
const BATCH_ATTEMPTS = 3;
const DAY_MS = 86_400_000;

export class AuditClosedError extends FerryError {
  constructor() {
    super('ERR_IO', 'the audit trail is closed');
  }
}

export class AuditWriter {
  readonly #repository: AuditRepository;
  readonly #log: Logger;
  readonly #flushDelayMs: number;
  readonly #maxBatch: number;
  readonly #checkpointEveryRecords: number;
  readonly #now: () => Date;
  readonly #health: HealthState | undefined;
  #signer: AuditSigner | undefined;
  #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  /** Records this writer committed since its last checkpoint (other processes' records are not counted). */
  #sinceCheckpoint = 0;
  #checkpointQueued = false;
  readonly #checkpointTimer: NodeJS.Timeout | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: AuditWriterOptions) {
    this.#repository = options.repository;
    this.#log = options.log;
    this.#flushDelayMs = options.flushDelayMs ?? 5;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 256);
    this.#checkpointEveryRecords = options.checkpointEveryRecords ?? 1000;
    this.#now = options.now ?? (() => new Date());
    this.#signer = options.signer;
    this.#health = options.health;
    const everyMs = options.checkpointEveryMs ?? 600_000;
    if (everyMs > 0) {
      this.#checkpointTimer = setInterval(() => {
        if (this.#sinceCheckpoint > 0) this.#queueCheckpoint();
      }, everyMs);
      this.#checkpointTimer.unref();
    }
  }

  /** Subscribe this to the EventBus: its promise settles once the event's record is committed. */
  readonly listener = (event: FerryEvent): Promise<void> =>
    this.append(entryFromEvent(event)).then(() => undefined);

  /** Sign checkpoints from now on (the server passes its Ed25519 host key once it is loaded). */
  useSigner(signer: AuditSigner | undefined): void {
    this.#signer = signer;
  }

  /** Queues a record; resolves with it (seq, hash) after the transaction holding it committed. */
  append(entry: AuditEntry): Promise<AuditRecord> {
    if (this.#closed) return Promise.reject(new AuditClosedError());
    let fields: AuditFields;
    try {
      fields = toAuditFields(entry, this.#now);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind: 'entry', fields, resolve, reject });
      this.#schedule();
    });
  }

  /** Records an administrative change made by the OS user running this process. */
  recordAdmin(change: AdminChange, actor: string = osActor()): Promise<AuditRecord> {
    return this.append(adminEntry(change, actor));
  }

  /** Writes a checkpoint (signed when a signer is set) attesting the current chain head. */
  checkpoint(): Promise<AuditRecord> {
    if (this.#closed) return Promise.reject(new AuditClosedError());
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind: 'checkpoint', resolve, reject });
      this.#schedule();
    });
  }

  /** Commits everything queued so far. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#drain();
  }

  prune(retentionDays: number): Promise<PruneResult> {
    return pruneAuditTrail(this.#repository, { retentionDays, now: this.#now(), actor: osActor() });
  }

  /** Prunes now and then once a day (for `serve`); 0 days keeps everything and starts nothing. */
  startRetention(retentionDays: number): void {
    if (retentionDays <= 0 || this.#retentionTimer || this.#closed) return;
    const run = () => {
      this.prune(retentionDays).then(
        (result) => {
          if (result.deleted > 0)
            this.#log.info({ deleted: result.deleted, before: result.before }, 'audit records pruned');
        },
        (err: unknown) => this.#log.error({ err }, 'audit retention prune failed'),
      );
    };
    run();
    this.#retentionTimer = setInterval(run, DAY_MS);
    this.#retentionTimer.unref();
  }

  /** Commits what is queued (and, with a signer, a closing checkpoint); later appends are refused. */
  async close(): Promise<void> {
    if (this.#closed) return this.#draining;
    clearInterval(this.#checkpointTimer);
    clearInterval(this.#retentionTimer);
    if (this.#signer && this.#sinceCheckpoint + this.#queue.length > 0) this.#queueCheckpoint();
    this.#closed = true;
    await this.flush();
  }

  #queueCheckpoint(): void {
    if (this.#checkpointQueued) return;
    this.#checkpointQueued = true;
    const done = () => {
      this.#checkpointQueued = false;
    };
    this.#queue.push({
      kind: 'checkpoint',
      resolve: done,
      reject: (err) => {
        done();
        this.#log.error({ err }, 'audit checkpoint failed');
      },
    });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#queue.length >= this.#maxBatch) {
      void this.flush();
      return;
    }
    // While a batch commits, new records wait for the drain loop, which takes them next (group commit).
    if (this.#timer || this.#draining) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, this.#flushDelayMs);
  }

  #drain(): Promise<void> {
    if (this.#draining || this.#queue.length === 0) return this.#draining ?? Promise.resolve();
    const run = async () => {
      // Start after #draining is assigned: clearing it in `finally` must never precede setting it,
      // or a stale settled promise would stay behind and every later record would wait forever.
      await undefined;
      try {
        while (this.#queue.length > 0) await this.#commitBatch(this.#queue.splice(0, this.#maxBatch));
      } finally {
        this.#draining = undefined;
      }
    };
    this.#draining = run();
    return this.#draining;
  }

  async #commitBatch(batch: Pending[]): Promise<void> {
    let records: AuditRecord[] | undefined;
    for (let attempt = 1; records === undefined; attempt++) {
      try {
        records = await this.#repository.append((head) => this.#seal(batch, head));
      } catch (err) {
        if (attempt < BATCH_ATTEMPTS) {
          this.#log.warn({ err, attempt, records: batch.length }, 'audit batch not committed; retrying');
          await new Promise((r) => setTimeout(r, 50 * attempt));
          continue;
        }
        // The records are lost to the trail; the log keeps what they were so the loss is visible.
        this.#log.error(
          { err, lost: batch.map((p) => (p.kind === 'entry' ? p.fields : { action: 'checkpoint' })) },
          'audit records could not be written',
        );
        // Before the callers hear of it: an upload waiting on its record then sees the store degraded.
        this.#health?.degrade('audit', `audit store cannot write: ${toFerryError(err).message}`);
        for (const p of batch) p.reject(err);
        return;
      }
    }
    this.#health?.recover('audit');
    batch.forEach((p, i) => {
      if (p.kind === 'checkpoint') this.#sinceCheckpoint = 0;
      else this.#sinceCheckpoint++;
      p.resolve(records[i]!);
    });
    if (
      this.#checkpointEveryRecords > 0 &&
      this.#sinceCheckpoint >= this.#checkpointEveryRecords &&
      !this.#closed
    ) {
      this.#queueCheckpoint();
    }
  }

  /** Runs inside the append transaction with the head read there: assigns seq, links and hashes. */
  #seal(batch: readonly Pending[], head: AuditChainHead | undefined): AuditRecord[] {
    let seq = head?.seq ?? 0;
    let prevHash = head?.hash ?? GENESIS_HASH;
    return batch.map((p) => {
      const fields = p.kind === 'entry' ? p.fields : this.#checkpointFields(seq, prevHash);
      const record = sealRecord(fields, seq + 1, prevHash);
      seq = record.seq;
      prevHash = record.hash;
      return record;
    });
  }

  #checkpointFields(headSeq: number, headHash: string): AuditFields {
    const at = this.#now();
    const signer = this.#signer;
    let signature: Record<string, string> = {};
    if (signer) {
      try {
        const message = checkpointMessage({ seq: headSeq + 1, at: at.toISOString(), headSeq, headHash });
        signature = {
          algorithm: signer.algorithm,
          publicKeySha256: signer.publicKeySha256,
          signature: signer.sign(message).toString('base64'),
        };
      } catch (err) {
        // An unsigned checkpoint still records the head; the failure is logged, not hidden.
        this.#log.error({ err }, 'audit checkpoint signing failed');
      }
    }
    return toAuditFields(
      { at, action: 'checkpoint', result: 'ok', detail: { headSeq, headHash, ...signature } },
      this.#now,
    );
  }
}
