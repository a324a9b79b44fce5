// Lstat of whole listing batches in a worker thread: one message per batch instead of one thread-pool round trip per entry.
import * as fsp from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { FsStat } from '../types.js';

/*
 * Why: `ls -l` of 100 000 files cost 100 000 fsp.lstat calls, each a thread-pool job with its own wake-ups;
 * perf showed the scheduler (futex wake, context switches) as 28% of the listing's CPU and the listing at 1.8×
 * OpenSSH's time. sftp-server, one process per session, just calls lstat(2) in a loop. A worker thread does
 * the same for one batch at a time without blocking the event loop that serves every other session.
 */

/** An FsStat without its kind, which the caller derives from the mode. */
export type LstatResult = Omit<FsStat, 'kind'>;

/** A batch unanswered for this long means the worker is stuck (a hung network mount): others bypass it. */
const STUCK_AFTER_MS = 1000;

interface PendingBatch {
  readonly base: string;
  readonly names: readonly string[];
  readonly sentAt: number;
  readonly resolve: (results: (LstatResult | null)[]) => void;
}

/**
 * One worker per process, started on first use. Until it is ready, while it is stuck, or if it cannot start,
 * batches take the direct path (fsp.lstat per entry): slower, same answers.
 */
export class LstatPool {
  #worker: Worker | undefined;
  #ready = false;
  #unavailable = false;
  #nextId = 1;
  readonly #pending = new Map<number, PendingBatch>();
  readonly #bootstrap: string;

  /** `bootstrap`: the worker's code (eval'd); tests replace it with workers that fail or hang. */
  constructor(bootstrap = WORKER_SOURCE) {
    this.#bootstrap = bootstrap;
  }

  /** Whether batches currently go to the worker (false while it starts, if it is stuck or unavailable). */
  get usingWorker(): boolean {
    return this.#ready && !this.#stuck();
  }

  /** lstat of base + name for every name, in order; null where the entry is gone or cannot be read. */
  lstatMany(base: string, names: readonly string[]): Promise<(LstatResult | null)[]> {
    if (!this.usingWorker) {
      this.#start();
      return lstatEach(base, names);
    }
    return new Promise((resolve) => {
      const id = this.#nextId++;
      this.#pending.set(id, { base, names, sentAt: performance.now(), resolve });
      this.#worker!.ref();
      const request: LstatRequest = { id, base, names };
      this.#worker!.postMessage(request);
    });
  }

  /** Stops the worker for good; batches it still held are redone on the direct path. */
  async close(): Promise<void> {
    this.#unavailable = true;
    await this.#worker?.terminate();
  }

  #stuck(): boolean {
    const oldest = this.#pending.values().next();
    return !oldest.done && performance.now() - oldest.value.sentAt > STUCK_AFTER_MS;
  }

  #start(): void {
    if (this.#worker || this.#unavailable) return;
    const worker = new Worker(this.#bootstrap, { eval: true, name: 'ferry-lstat' });
    this.#worker = worker;
    worker.on('message', (reply: LstatReply) => this.#onReply(reply));
    worker.on('error', (err) => this.#onGone(worker, err));
    worker.on('exit', (code) => this.#onGone(worker, new Error(`exited with code ${code}`)));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
  }

  #onReply(reply: LstatReply): void {
    if (reply.id === 0) {
      this.#ready = true;
      return;
    }
    const batch = this.#pending.get(reply.id);
    if (!batch) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    batch.resolve(decode(reply.fields, batch.names.length));
  }

  /** The worker died: its batches are redone on the direct path; a worker that never got ready is not retried. */
  #onGone(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    if (!this.#ready && !this.#unavailable) {
      this.#unavailable = true;
      process.emitWarning(`lstat worker unavailable (${err.message}); listings use one lstat job per entry`);
    }
    this.#worker = undefined;
    this.#ready = false;
    const orphans = [...this.#pending.values()];
    this.#pending.clear();
    for (const batch of orphans) void lstatEach(batch.base, batch.names).then(batch.resolve);
  }
}

/** Numbers per entry in a reply: mode, size, uid, gid, nlink, atimeMs, mtimeMs; mode NaN = no entry. */
const LSTAT_FIELDS = 7;

interface LstatRequest {
  readonly id: number;
  /** Directory path ending in '/'; every name is lstat'ed as base + name. */
  readonly base: string;
  readonly names: readonly string[];
}

interface LstatReply {
  readonly id: number;
  readonly fields: Float64Array;
}

/**
 * The worker's whole program. Plain JavaScript on purpose: a TypeScript worker would load tsx first (~200 ms
 * of CPU before the first batch, a first listing twice as slow); this one is ready in ~45 ms. Dynamic import
 * only, as eval'd worker code is CommonJS or ESM depending on how the process was started. Answers id 0 once
 * ready; for each LstatRequest, one LstatReply whose buffer is transferred, not copied.
 */
const WORKER_SOURCE = `Promise.all([import('node:fs'), import('node:worker_threads')]).then(([fs, threads]) => {
  const port = threads.parentPort;
  port.on('message', ({ id, base, names }) => {
    const fields = new Float64Array(names.length * ${LSTAT_FIELDS});
    for (let i = 0; i < names.length; i++) {
      const at = i * ${LSTAT_FIELDS};
      let stats;
      try {
        stats = fs.lstatSync(base + names[i], { throwIfNoEntry: false });
      } catch {
        stats = undefined; // EACCES, ENAMETOOLONG: left out like an entry removed since readdir
      }
      if (!stats) {
        fields[at] = NaN;
        continue;
      }
      fields[at] = stats.mode;
      fields[at + 1] = stats.size;
      fields[at + 2] = stats.uid;
      fields[at + 3] = stats.gid;
      fields[at + 4] = stats.nlink;
      fields[at + 5] = stats.atimeMs;
      fields[at + 6] = stats.mtimeMs;
    }
    port.postMessage({ id, fields }, [fields.buffer]);
  });
  port.postMessage({ id: 0 });
});`;

function decode(fields: Float64Array, count: number): (LstatResult | null)[] {
  const results: (LstatResult | null)[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * LSTAT_FIELDS;
    const mode = fields[at]!;
    if (Number.isNaN(mode)) {
      results.push(null);
      continue;
    }
    results.push({
      mode,
      size: fields[at + 1]!,
      uid: fields[at + 2]!,
      gid: fields[at + 3]!,
      nlink: fields[at + 4]!,
      atimeMs: fields[at + 5]!,
      mtimeMs: fields[at + 6]!,
    });
  }
  return results;
}

/** The direct path: one fsp.lstat per entry, all in flight at once. */
function lstatEach(base: string, names: readonly string[]): Promise<(LstatResult | null)[]> {
  return Promise.all(
    names.map(async (name) => {
      try {
        return await fsp.lstat(base + name);
      } catch {
        // Removed between readdir and lstat (or unreadable): the entry simply is not there any more.
        return null;
      }
    }),
  );
}

/** Shared by every LocalFs in the process. */
export const lstatPool = new LstatPool();
