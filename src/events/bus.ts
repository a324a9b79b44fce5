// The typed event bus: awaited subscribers (the audit writer) and queued ones (alerts) that never delay an operation.
import type { Logger } from 'pino';
import type { FerryEvent } from './types.js';

/**
 * A listener may return a promise (the audit writer resolves it once the record is committed); emit()
 * settles after every such promise. Any other return value is ignored, so `(e) => list.push(e)` works.
 */
export type EventListener = (event: FerryEvent) => unknown;

export interface QueuedSubscriberOptions {
  /** Names the subscriber in the log lines about its failures and dropped events. */
  readonly name: string;
  /** Events held for it at most; when full, the oldest is dropped (counted and logged). Default 1000. */
  readonly maxQueue?: number;
}

/** What a queued subscriber has been through, for tests and a future metrics endpoint. */
export interface QueuedSubscriberStats {
  readonly name: string;
  readonly queued: number;
  readonly delivered: number;
  readonly failed: number;
  readonly dropped: number;
}

const SETTLED: Promise<void> = Promise.resolve();
const DEFAULT_MAX_QUEUE = 1000;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * One queued subscriber: events are delivered one at a time, in order, each after the previous one's promise
 * settled; emit() only appends to the queue.
 */
class QueuedSubscriber {
  readonly #listener: EventListener;
  readonly #name: string;
  readonly #maxQueue: number;
  readonly #log: Logger | undefined;
  readonly #queue: FerryEvent[] = [];
  #delivering: Promise<void> | undefined;
  #delivered = 0;
  #failed = 0;
  #dropped = 0;
  #closed = false;

  constructor(listener: EventListener, options: QueuedSubscriberOptions, log: Logger | undefined) {
    this.#listener = listener;
    this.#name = options.name;
    this.#maxQueue = Math.max(1, options.maxQueue ?? DEFAULT_MAX_QUEUE);
    this.#log = log;
  }

  push(event: FerryEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#maxQueue) {
      const lost = this.#queue.shift();
      this.#dropped++;
      this.#log?.warn(
        { subscriber: this.#name, eventType: lost?.type, dropped: this.#dropped, maxQueue: this.#maxQueue },
        'queued event subscriber is behind: its oldest event was dropped',
      );
    }
    this.#queue.push(event);
    this.#delivering ??= this.#drain();
  }

  async #drain(): Promise<void> {
    // Delivered on a later turn, never inside emit(): the emitting operation goes on at once.
    await SETTLED;
    try {
      for (let event = this.#queue.shift(); event !== undefined; event = this.#queue.shift()) {
        try {
          const result = this.#listener(event);
          if (isPromiseLike(result)) await result;
          this.#delivered++;
        } catch (err) {
          this.#failed++;
          this.#log?.error(
            { err, subscriber: this.#name, eventType: event.type, failed: this.#failed },
            'queued event subscriber failed',
          );
        }
        if (this.#closed) break;
      }
    } finally {
      this.#delivering = undefined;
    }
  }

  /** Settles once the queue is empty (or, after close(), once the event in delivery is done). */
  async idle(): Promise<void> {
    while (this.#delivering) await this.#delivering;
  }

  /** Stops taking events; what is still queued is dropped (counted and logged). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#queue.length > 0) {
      this.#dropped += this.#queue.length;
      this.#log?.warn(
        { subscriber: this.#name, dropped: this.#queue.length },
        'queued event subscriber closed with events still queued: they were dropped',
      );
      this.#queue.length = 0;
    }
  }

  get stats(): QueuedSubscriberStats {
    return {
      name: this.#name,
      queued: this.#queue.length,
      delivered: this.#delivered,
      failed: this.#failed,
      dropped: this.#dropped,
    };
  }
}

/** A queued subscription: unsubscribe, wait for its queue to drain, read its counters. */
export interface QueuedSubscription {
  (): void;
  idle(): Promise<void>;
  readonly stats: QueuedSubscriberStats;
}

export class EventBus {
  readonly #listeners = new Set<EventListener>();
  readonly #queued = new Set<QueuedSubscriber>();
  readonly #log: Logger | undefined;

  constructor(log?: Logger) {
    this.#log = log;
  }

  /**
   * An awaited subscriber: emit()'s promise waits for the promise it returns, so an operation that awaits
   * emit() (a completed upload's CLOSE) is acknowledged only after it (the audit record is committed).
   */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A queued subscriber (alerts, notifications): it gets every event in order, asynchronously, through a
   * bounded queue of its own, so it can never delay an operation however slow it is. A failure is logged
   * with its name; when the queue is full the oldest event is dropped with a logged warning.
   */
  subscribeQueued(listener: EventListener, options: QueuedSubscriberOptions): QueuedSubscription {
    const subscriber = new QueuedSubscriber(listener, options, this.#log);
    this.#queued.add(subscriber);
    const unsubscribe = () => {
      this.#queued.delete(subscriber);
      subscriber.close();
    };
    // defineProperty, not Object.assign: assign would copy the counters once instead of the getter.
    return Object.defineProperties(unsubscribe, {
      idle: { value: () => subscriber.idle() },
      stats: { get: () => subscriber.stats },
    }) as QueuedSubscription;
  }

  /**
   * Queues the event for the queued subscribers, then calls every awaited listener synchronously, in
   * subscription order. The returned promise resolves once all promises the awaited listeners returned have
   * settled; it never rejects (failures are logged), so callers that do not need the listeners done can
   * ignore it (fire and forget).
   */
  emit(event: FerryEvent): Promise<void> {
    for (const subscriber of this.#queued) subscriber.push(event);
    const pending: Promise<unknown>[] = [];
    for (const listener of this.#listeners) {
      try {
        const result = listener(event);
        if (isPromiseLike(result)) {
          pending.push(
            Promise.resolve(result).catch((err: unknown) =>
              this.#log?.error({ err, eventType: event.type }, 'event listener failed'),
            ),
          );
        }
      } catch (err) {
        this.#log?.error({ err, eventType: event.type }, 'event listener failed');
      }
    }
    return pending.length > 0 ? Promise.all(pending).then(() => undefined) : SETTLED;
  }

  /** Settles once every queued subscriber has delivered what it holds (a clean shutdown, tests). */
  async drainQueued(timeoutMs?: number): Promise<boolean> {
    const all = Promise.all([...this.#queued].map((s) => s.idle())).then(() => true);
    if (timeoutMs === undefined) return all;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every queued subscriber; events still queued are dropped (and logged). */
  closeQueued(): void {
    for (const subscriber of this.#queued) subscriber.close();
    this.#queued.clear();
  }
}
