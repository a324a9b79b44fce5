// The audit writer: batches records into one chain-append transaction each, resolves callers after commit, signs checkpoints.
import { FerryError, toFerryError } from '../errors.js';
import type { AdminEvent, FerryEvent } from '../events/types.js';
import type { HealthState } from '../health.js';
import type { Logger } from '../logger.js';
import type { AuditRecord, AuditRepository } from '../store/types.js';
import { GroupCommit } from '../util/group-commit.js';
import { type AuditAnchor, anchorFromCheckpoint, appendAnchor } from './anchors.js';
import { type PendingAuditWrite, sealBatch } from './batch-seal.js';
import type { AuditFields } from './chain.js';
import {
  type AdminChange,
  type AuditEntry,
  adminEntry,
  entryFromEvent,
  osActor,
  toAuditFields,
} from './entries.js';
import { type PruneResult, pruneAuditTrail } from './retention.js';
import type { AuditSigner } from './signer.js';
import { AuditUnsignedError } from './unsigned-error.js';

export { AuditUnsignedError };

/** Records between signed checkpoints when the configuration says nothing else; `verify` expects the same. */
export const DEFAULT_CHECKPOINT_INTERVAL = 1000;

export interface AuditWriterOptions {
  readonly repository: AuditRepository;
  readonly log: Logger;
  /** Longest a record waits for company before its batch is committed (default 0: the event loop's next turn). */
  readonly flushDelayMs?: number;
  /** A batch is committed at once when this many records wait (default 256). */
  readonly maxBatch?: number;
  /**
   * A signed checkpoint follows at most this many records in the chain (default 1000; 0: not by count).
   * Counted on the chain itself inside the append transaction, so records of every process count.
   */
  readonly checkpointEveryRecords?: number;
  /** Write a checkpoint this often when the chain's newest record is not one (default 10 min; 0: not by time). */
  readonly checkpointEveryMs?: number;
  /** Signs checkpoints (the server's Ed25519 host key); can also be set later with useSigner(). */
  readonly signer?: AuditSigner;
  /**
   * Finds a signer when none was set (a CLI process: before its first batch when checkpoints are due by
   * count, or for a prune); undefined when there is no Ed25519 host key.
   */
  readonly loadSigner?: () => Promise<AuditSigner | undefined>;
  /** Every signed checkpoint is also appended to this file (the anchor log, kept outside the store). */
  readonly anchorLog?: string;
  readonly now?: () => Date;
  /** Told after every batch whether the store could write: degraded (with the reason) or recovered. */
  readonly health?: HealthState;
}

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
  readonly #checkpointEveryRecords: number;
  readonly #loadSigner: (() => Promise<AuditSigner | undefined>) | undefined;
  readonly #anchorLog: string | undefined;
  readonly #now: () => Date;
  readonly #health: HealthState | undefined;
  #signer: AuditSigner | undefined;
  /** The cluster node this process serves as, once `serve` knows it; CLI processes have none. */
  #node: string | undefined;
  #signerLoad: Promise<AuditSigner | undefined> | undefined;
  readonly #batches: GroupCommit<PendingAuditWrite>;
  /** Records this writer committed since it last saw a checkpoint commit (its own or none). */
  #sinceCheckpoint = 0;
  #checkpointQueued = false;
  /** Set when a sealed batch crossed the interval without a signer to sign the due checkpoint. */
  #dueUnsigned = false;
  /** Finding a signer for that checkpoint and queueing it; close() waits for it. */
  #dueTask: Promise<void> | undefined;
  #warnedUnsigned = false;
  readonly #checkpointTimer: NodeJS.Timeout | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: AuditWriterOptions) {
    this.#repository = options.repository;
    this.#log = options.log;
    this.#batches = new GroupCommit({
      flushDelayMs: options.flushDelayMs ?? 0,
      maxBatch: options.maxBatch ?? 256,
      commit: (batch) => this.#commitBatch(batch),
    });
    this.#checkpointEveryRecords = options.checkpointEveryRecords ?? DEFAULT_CHECKPOINT_INTERVAL;
    this.#now = options.now ?? (() => new Date());
    this.#signer = options.signer;
    this.#health = options.health;
    this.#loadSigner = options.loadSigner;
    this.#anchorLog = options.anchorLog;
    const everyMs = options.checkpointEveryMs ?? 600_000;
    if (everyMs > 0) {
      // Also covers records other processes (CLI commands without a signer) wrote since the last checkpoint.
      this.#checkpointTimer = setInterval(() => {
        if (this.#signer) this.#queueCheckpoint();
      }, everyMs);
      this.#checkpointTimer.unref();
    }
  }

  /** The records of admin events, for their services to learn whether the record committed (see committed()). */
  readonly #adminRecords = new WeakMap<AdminEvent, Promise<AuditRecord>>();

  /**
   * Subscribe this to the EventBus (awaited): its promise settles once the event's record is committed.
   * Events the trail does not hold (jobs, system) pass at once.
   */
  readonly listener = (event: FerryEvent): Promise<void> | undefined => {
    // A prune writes its own signed retention record (naming the actor) in the transaction that deletes.
    if (event.type === 'admin' && event.action === 'audit.prune') return undefined;
    const entry = entryFromEvent(event);
    if (entry === undefined) return undefined;
    const record = this.append(entry);
    if (event.type === 'admin') this.#adminRecords.set(event, record);
    return record.then(() => undefined);
  };

  /**
   * The record of an admin event this writer's listener took, which rejects when it could not be committed
   * (the bus only logs listener failures; a change the trail cannot record must fail). Undefined when the
   * listener never saw the event.
   */
  committed(event: AdminEvent): Promise<AuditRecord> | undefined {
    return this.#adminRecords.get(event);
  }

  readonly #commitListeners = new Set<(seconds: number, records: number) => void>();

  /**
   * Told of every committed batch: how long its store transaction took (retries included) and how many records
   * it held (for the audit write latency metric). Returns the function that stops listening.
   */
  onBatchCommitted(listener: (seconds: number, records: number) => void): () => void {
    this.#commitListeners.add(listener);
    return () => this.#commitListeners.delete(listener);
  }

  /** Sign checkpoints from now on (the server passes its Ed25519 host key once it is loaded). */
  useSigner(signer: AuditSigner | undefined): void {
    this.#signer = signer;
  }

  /** Stamp every record written from now on with this node id (`serve` passes its `--node-id`). */
  useNode(node: string | undefined): void {
    this.#node = node;
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
      this.#batches.push({ kind: 'entry', fields, resolve, reject });
    });
  }

  /**
   * Records an administrative change made by the OS user running this process. Front ends do not call this:
   * admin services emit admin events, which `listener` records.
   */
  recordAdmin(change: AdminChange, actor: string = osActor()): Promise<AuditRecord> {
    return this.append(adminEntry(change, actor));
  }

  /** Writes a signed checkpoint attesting the current chain head; refused without a signer. */
  async checkpoint(): Promise<AuditRecord> {
    if (this.#closed) throw new AuditClosedError();
    if (!(await this.#resolveSigner())) throw new AuditUnsignedError();
    const record = await new Promise<AuditRecord | undefined>((resolve, reject) => {
      this.#batches.push({ kind: 'checkpoint', resolve, reject });
    });
    if (!record) throw new AuditUnsignedError();
    return record;
  }

  /** Commits everything queued so far. */
  flush(): Promise<void> {
    return this.#batches.flush();
  }

  /** Deletes records older than the retention period (the retention record names `actor`); the cut is signed, so a signer is needed. */
  async prune(retentionDays: number, actor: string = osActor()): Promise<PruneResult> {
    const signer = await this.#resolveSigner();
    const result = await pruneAuditTrail(this.#repository, {
      retentionDays,
      now: this.#now(),
      actor,
      node: this.#node,
      ...(signer ? { signer } : {}),
    });
    const anchor = result.checkpoint ? anchorFromCheckpoint(result.checkpoint) : undefined;
    if (anchor) await this.#writeAnchor(anchor);
    return result;
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

  /** Stops the daily prune (a server stopping); a prune in progress finishes. */
  stopRetention(): void {
    clearInterval(this.#retentionTimer);
    this.#retentionTimer = undefined;
  }

  /** Commits what is queued (and, with a signer, a closing checkpoint); later appends are refused. */
  async close(): Promise<void> {
    if (this.#closed) return this.#batches.draining;
    clearInterval(this.#checkpointTimer);
    clearInterval(this.#retentionTimer);
    if (this.#signer && this.#sinceCheckpoint + this.#batches.queued > 0) this.#queueCheckpoint();
    this.#closed = true;
    await this.flush();
    // A checkpoint that fell due in the last batches without a signer is written once one is found.
    while (this.#dueTask) {
      await this.#dueTask;
      await this.flush();
    }
  }

  async #resolveSigner(): Promise<AuditSigner | undefined> {
    if (this.#signer || !this.#loadSigner) return this.#signer;
    this.#signerLoad ??= this.#loadSigner().catch((err: unknown) => {
      this.#log.error({ err }, 'audit checkpoint signer could not be loaded');
      return undefined;
    });
    this.#signer ??= await this.#signerLoad;
    return this.#signer;
  }

  /** After a batch crossed the interval without a signer: find one and write the checkpoint. */
  async #checkpointDue(): Promise<void> {
    this.#dueUnsigned = false;
    if (await this.#resolveSigner()) {
      this.#queueCheckpoint();
      return;
    }
    if (!this.#warnedUnsigned) {
      this.#warnedUnsigned = true;
      this.#log.warn(
        'a signed audit checkpoint is due but there is no Ed25519 host key to sign it; `ferry audit verify` will report the gap until one is written',
      );
    }
  }

  #queueCheckpoint(): void {
    if (this.#checkpointQueued) return;
    this.#checkpointQueued = true;
    const done = () => {
      this.#checkpointQueued = false;
    };
    this.#batches.push({
      kind: 'due',
      resolve: done,
      reject: (err) => {
        done();
        this.#log.error({ err }, 'audit checkpoint failed');
      },
    });
  }

  async #commitBatch(batch: PendingAuditWrite[]): Promise<void> {
    // A CLI process opens the host key before its first batch: a checkpoint that falls due inside the
    // append transaction must be signed right there, or other records could land before it.
    if (this.#checkpointEveryRecords > 0) await this.#resolveSigner();
    let records: AuditRecord[] | undefined;
    let outcomes: (AuditRecord | undefined)[] = [];
    const started = performance.now();
    for (let attempt = 1; records === undefined; attempt++) {
      try {
        records = await this.#repository.append((head) => {
          this.#dueUnsigned = false;
          const sealed = sealBatch(batch, head, {
            signer: this.#signer,
            now: () => this.#now(),
            log: this.#log,
            checkpointEveryRecords: this.#checkpointEveryRecords,
            node: this.#node,
            onUnsignedDue: () => {
              this.#dueUnsigned = true;
            },
          });
          outcomes = sealed.outcomes;
          return sealed.records;
        });
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
    const seconds = (performance.now() - started) / 1000;
    for (const listener of this.#commitListeners) listener(seconds, records.length);
    for (const r of records) {
      if (r.action === 'checkpoint') this.#sinceCheckpoint = 0;
      else this.#sinceCheckpoint++;
    }
    const newest = records.filter((r) => r.action === 'checkpoint').at(-1);
    const anchor = newest ? anchorFromCheckpoint(newest) : undefined;
    if (anchor) await this.#writeAnchor(anchor);
    batch.forEach((p, i) => {
      const record = outcomes[i];
      if (p.kind === 'entry') p.resolve(record!);
      else p.resolve(record);
    });
    if (this.#dueUnsigned) {
      this.#dueTask ??= this.#checkpointDue().finally(() => {
        this.#dueTask = undefined;
      });
    }
  }

  /** The anchor log is a second copy for outsiders; failing to write it is logged, never fatal to the trail. */
  async #writeAnchor(anchor: AuditAnchor): Promise<void> {
    if (this.#anchorLog === undefined) return;
    try {
      await appendAnchor(this.#anchorLog, anchor);
    } catch (err) {
      this.#log.error({ err, file: this.#anchorLog, seq: anchor.seq }, 'audit anchor could not be appended');
    }
  }
}
