// A small typed event bus; listeners must not throw (errors are logged and dropped) and may return a promise to be awaited.
import type { Logger } from 'pino';
import type { FerryEvent } from './types.js';

/**
 * A listener may return a promise (the audit writer resolves it once the record is committed); emit()
 * settles after every such promise. Any other return value is ignored, so `(e) => list.push(e)` works.
 */
export type EventListener = (event: FerryEvent) => unknown;

const SETTLED: Promise<void> = Promise.resolve();

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

export class EventBus {
  readonly #listeners = new Set<EventListener>();
  readonly #log: Logger | undefined;

  constructor(log?: Logger) {
    this.#log = log;
  }

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Calls every listener synchronously, in subscription order. The returned promise resolves once all
   * promises the listeners returned have settled; it never rejects (failures are logged), so callers
   * that do not need the listeners done can ignore it (fire and forget).
   */
  emit(event: FerryEvent): Promise<void> {
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
}
