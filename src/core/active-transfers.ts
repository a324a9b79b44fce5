// What each file session of this process is moving right now, asked for by the API's live session list, and
// whether any is moving at all (the rule worker lets transfers go first). Nothing is recorded per packet: a session
// registers how to read its open handles' counters, and they are read on request.
import { performance } from 'node:perf_hooks';

/** The file a connection is moving at this moment. */
export interface TransferProgress {
  readonly direction: 'upload' | 'download';
  readonly path: string;
  readonly bytes: number;
  readonly startedAt: Date;
}

export type ProgressSource = () => TransferProgress | undefined;

/** How long ago this process last had a file open for a client (automation/worker.ts waits on it). */
export interface TransferGauge {
  /** Milliseconds since the last client file of this process closed; 0 while one is open. */
  quietMs(): number;
}

/** Bounded by the sessions the process holds: each registers once at start and leaves at close. */
export class ActiveTransfers implements TransferGauge {
  readonly #bySession = new Map<string, ProgressSource>();
  #open = 0;
  /** performance.now() when the open count last fell to 0; -Infinity before any file was opened. */
  #quietSince = Number.NEGATIVE_INFINITY;
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** A client's file was opened (an upload or a download begins); `closed` is called once when it is released. */
  opened(): () => void {
    this.#open++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#open--;
      if (this.#open === 0) this.#quietSince = this.#now();
    };
  }

  /** Client files open in this process now. */
  get open(): number {
    return this.#open;
  }

  quietMs(): number {
    return this.#open > 0 ? 0 : this.#now() - this.#quietSince;
  }

  register(sessionId: string, source: ProgressSource): void {
    this.#bySession.set(sessionId, source);
  }

  unregister(sessionId: string, source: ProgressSource): void {
    // A session id is unique per connection; the check keeps a late close from dropping a newer registration.
    if (this.#bySession.get(sessionId) === source) this.#bySession.delete(sessionId);
  }

  of(sessionId: string): TransferProgress | undefined {
    return this.#bySession.get(sessionId)?.();
  }
}

/** Of several open handles the one moving most recently wins (OpenSSH moves one file at a time). */
export function latestProgress(handles: Iterable<{ progress(): TransferProgress | undefined }>) {
  let latest: TransferProgress | undefined;
  for (const h of handles) {
    const p = h.progress();
    if (p && (!latest || p.startedAt >= latest.startedAt)) latest = p;
  }
  return latest;
}
