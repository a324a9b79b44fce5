// The event loop's side of a native ring thread that is fed plain bytes (native/aead/src/ring.h): pushes with
// backpressure, flushes, and the end, for the OpenPGP sealing thread and encrypted storage's segment thread.
import { aeadWith } from './aead-addon.js';

/** A started ring thread's handle (an external: collecting it stops the thread). */
export type RingHandle = object;
export type RingEvent = (kind: number, error: Error | null, result: number) => void;

/** The addon's functions for every ring thread fed plain bytes (ring.h's js_ring_*). */
interface RingFunctions {
  /** Bytes of `data` copied into the ring (the rest waits for SPACE); -1 once the thread has stopped. */
  ringPush(handle: RingHandle, data: Uint8Array): number;
  ringFlush(handle: RingHandle): void;
  ringFinish(handle: RingHandle): void;
  ringAbort(handle: RingHandle): void;
}

const ring = aeadWith<RingFunctions>('ringPush');

/** The addon as `T` when it has `probe` (a kind of ring thread's start) and the ring functions (an older build has not). */
export function ringAddon<T>(probe: string): T | undefined {
  return ring ? aeadWith<T>(probe) : undefined;
}

const SPACE = 1;
const FLUSHED = 2;
const DONE = 3;

/**
 * One ring thread, driven from the event loop: `push` in order (one at a time: a caller queues its writes),
 * `flush`, then `stop`. The thread's error (a failed pwrite, as node:fs reports it) is `error` once it stopped.
 */
export class RingFeeder {
  readonly #fns: RingFunctions;
  #handle: RingHandle | undefined;
  #stopped = false;
  #error: Error | null = null;
  readonly #done: Promise<void>;
  #settleDone!: () => void;
  /** Pushes waiting for room in the ring, and flushes waiting for it to empty; all are woken when the thread stops. */
  #spaceWaiters: Array<() => void> = [];
  #flushWaiters: Array<() => void> = [];
  #flushes: Promise<void> = Promise.resolve();

  /** `start` starts the thread with the event callback it is given (and throws when it cannot); see ringAddon. */
  constructor(start: (onEvent: RingEvent) => RingHandle) {
    this.#fns = ring!;
    this.#done = new Promise((resolve) => {
      this.#settleDone = resolve;
    });
    this.#handle = start((kind, error) => this.#event(kind, error));
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Why the thread stopped on its own (null when it did not, or not yet). */
  get error(): Error | null {
    return this.#error;
  }

  #event(kind: number, error: Error | null): void {
    if (kind === DONE) {
      this.#stopped = true;
      this.#error = error;
      this.#settleDone();
    }
    if (kind === SPACE || kind === DONE) this.#wake(this.#takeWaiters('space'));
    if (kind === FLUSHED || kind === DONE) this.#wake(this.#takeWaiters('flush'));
  }

  #takeWaiters(which: 'space' | 'flush'): Array<() => void> {
    const waiters = which === 'space' ? this.#spaceWaiters : this.#flushWaiters;
    if (which === 'space') this.#spaceWaiters = [];
    else this.#flushWaiters = [];
    return waiters;
  }

  #wake(waiters: Array<() => void>): void {
    for (const wake of waiters) wake();
  }

  /**
   * Copies `chunk` into the ring, waiting for room as often as it takes; `taken` is told each piece's length.
   * False when the thread stopped first (its `error` says why; the rest of the chunk was not taken).
   */
  async push(chunk: Uint8Array, taken?: (bytes: number) => void): Promise<boolean> {
    for (let at = 0; at < chunk.length; ) {
      const count = this.#fns.ringPush(this.#handle!, at === 0 ? chunk : chunk.subarray(at));
      if (count < 0) {
        await this.#done;
        return false;
      }
      at += count;
      taken?.(count);
      if (at < chunk.length) await new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
    }
    return true;
  }

  /**
   * Waits until everything pushed so far was consumed (and the kind's flush ran), or the thread stopped. One
   * request at a time: a FLUSHED report on its way for an earlier request must not answer a later one, whose
   * bytes may not have been flushed yet.
   */
  flush(): Promise<void> {
    const run = this.#flushes.then(() => this.#flushOnce());
    this.#flushes = run.catch(() => undefined);
    return run;
  }

  async #flushOnce(): Promise<void> {
    if (this.#stopped) return;
    const flushed = new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
    this.#fns.ringFlush(this.#handle!);
    await flushed;
  }

  /** Ends the thread (finishing what was pushed, or abandoning it) and waits until it no longer uses its file. */
  async stop(abort: boolean): Promise<void> {
    if (this.#handle && !this.#stopped) {
      if (abort) this.#fns.ringAbort(this.#handle);
      else this.#fns.ringFinish(this.#handle);
    }
    await this.#done;
  }
}
