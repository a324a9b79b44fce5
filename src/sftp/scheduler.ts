// Runs a session's requests concurrently while keeping the draft's rule: requests on the same file act in order.
/**
 * What a request touches. Requests on one key conflict unless both only read; reads and writes
 * with byte ranges conflict only when the ranges overlap; a barrier conflicts with everything.
 */
export interface Claim {
  readonly key: string;
  readonly access: 'read' | 'write' | 'barrier';
  /** Byte range [start, end); absent means the whole object. */
  readonly start?: number;
  readonly end?: number;
}

interface Task {
  readonly claims: readonly Claim[];
  readonly run: () => Promise<void>;
  running: boolean;
}

function claimsConflict(a: Claim, b: Claim): boolean {
  if (a.key !== b.key) return false;
  if (a.access === 'read' && b.access === 'read') return false;
  if (a.access === 'barrier' || b.access === 'barrier') return true;
  const aStart = a.start ?? 0;
  const aEnd = a.end ?? Number.POSITIVE_INFINITY;
  const bStart = b.start ?? 0;
  const bEnd = b.end ?? Number.POSITIVE_INFINITY;
  return aStart < bEnd && bStart < aEnd;
}

function tasksConflict(a: Task, b: Task): boolean {
  for (const x of a.claims) for (const y of b.claims) if (claimsConflict(x, y)) return true;
  return false;
}

/**
 * A task starts once no earlier unfinished task conflicts with it, so pipelined READs and WRITEs at
 * distinct offsets overlap while a CLOSE waits for its handle's writes. Its size is bounded by the
 * session's in-flight cap, so the quadratic scan stays tiny.
 */
export class RequestScheduler {
  #tasks: Task[] = [];
  #idleWaiters: Array<() => void> = [];
  readonly #onSettled: () => void;

  constructor(onSettled: () => void) {
    this.#onSettled = onSettled;
  }

  /** Requests accepted and not yet finished (queued or running). */
  get size(): number {
    return this.#tasks.length;
  }

  /** `run` must not reject: request handlers turn their errors into replies. */
  add(claims: readonly Claim[], run: () => Promise<void>): void {
    this.#tasks.push({ claims, run, running: false });
    this.#startReady();
  }

  /** Drops tasks that have not started (the session is gone); running ones finish. */
  cancelQueued(): void {
    this.#tasks = this.#tasks.filter((task) => task.running);
    this.#notifyIdle();
  }

  idle(): Promise<void> {
    if (this.#tasks.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #startReady(): void {
    for (let i = 0; i < this.#tasks.length; i++) {
      const task = this.#tasks[i]!;
      if (task.running) continue;
      let blocked = false;
      for (let j = 0; j < i && !blocked; j++) blocked = tasksConflict(this.#tasks[j]!, task);
      if (blocked) continue;
      task.running = true;
      void task.run().finally(() => this.#finish(task));
    }
  }

  #finish(task: Task): void {
    const index = this.#tasks.indexOf(task);
    if (index >= 0) this.#tasks.splice(index, 1);
    this.#startReady();
    this.#notifyIdle();
    this.#onSettled();
  }

  #notifyIdle(): void {
    if (this.#tasks.length > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
