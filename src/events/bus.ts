// A small synchronous typed event bus; listeners must not throw (errors are logged and dropped).
import type { Logger } from 'pino';
import type { FerryEvent } from './types.js';

export type EventListener = (event: FerryEvent) => void;

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

  emit(event: FerryEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#log?.error({ err, eventType: event.type }, 'event listener failed');
      }
    }
  }
}
