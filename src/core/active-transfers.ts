// What each file session of this process is moving right now, asked for by the API's live session list. Nothing is
// recorded per packet: a session registers how to read its open handles' counters, and they are read on request.

/** The file a connection is moving at this moment. */
export interface TransferProgress {
  readonly direction: 'upload' | 'download';
  readonly path: string;
  readonly bytes: number;
  readonly startedAt: Date;
}

export type ProgressSource = () => TransferProgress | undefined;

/** Bounded by the sessions the process holds: each registers once at start and leaves at close. */
export class ActiveTransfers {
  readonly #bySession = new Map<string, ProgressSource>();

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
