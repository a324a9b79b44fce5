// What the server lifecycle (server.ts) is built from: the stack of started services, stopped in reverse, the
// store's health and the data dir's free space as system events.
import { statfs } from 'node:fs/promises';
import type { EventBus } from './events/bus.js';
import type { SystemEvent } from './events/types.js';
import type { HealthState } from './health.js';
import type { Logger } from './logger.js';

/** A system event of this process, stamped now. */
export function systemEvent(
  event: Omit<SystemEvent, 'at' | 'sessionId' | 'type'> & Partial<SystemEvent>,
): SystemEvent {
  return { type: 'system', at: new Date(), sessionId: '', ...event } as SystemEvent;
}

/**
 * The store's failures and recoveries as `store-error` / `store-recovered` events. The audit store is the store
 * every process writes on every operation: its failures are the store's, and so are the rules outbox's
 * (deliveries it could not store). Returns the unsubscribe.
 */
export function watchStoreHealth(health: HealthState, events: EventBus): () => void {
  return health.onChange((component, state) => {
    void events.emit(
      state.healthy
        ? systemEvent({ phase: 'store-recovered' })
        : systemEvent({
            phase: 'store-error',
            errorCode: component === 'audit' ? 'ERR_AUDIT_UNAVAILABLE' : 'ERR_IO',
            error: state.reason ?? 'unknown',
          }),
    );
  });
}

/**
 * Services started one after another and stopped in reverse: what started last (it may use what started
 * before it) stops first. A failing stop is logged and the others still stop; stop() runs once.
 */
export class ServiceStack {
  readonly #services: { readonly name: string; readonly stop: () => unknown }[] = [];
  readonly #log: Logger;
  #stopping: Promise<void> | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Records a started service. */
  started(name: string, stop: () => unknown): void {
    this.#services.push({ name, stop });
  }

  /** Names in start order. */
  get names(): string[] {
    return this.#services.map((s) => s.name);
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const service of [...this.#services].reverse()) {
        try {
          await service.stop();
          this.#log.debug({ service: service.name }, 'stopped');
        } catch (err) {
          this.#log.error({ err, service: service.name }, 'service failed to stop');
        }
      }
    })();
    return this.#stopping;
  }
}

export interface DiskSpaceReading {
  /** Free space for unprivileged writers, in percent of the file system. */
  readonly freePercent: number;
  readonly freeBytes: number;
}

/** Free space of the file system holding `path`, as the server's users can use it (bavail, not bfree). */
export async function readDiskSpace(path: string): Promise<DiskSpaceReading> {
  const s = await statfs(path);
  const freeBytes = s.bavail * s.bsize;
  const freePercent = s.blocks > 0 ? (s.bavail / s.blocks) * 100 : 100;
  return { freePercent, freeBytes };
}

/**
 * Checks the data dir's free space now and every `intervalMs`; emits `disk-space-low` (and logs a warning) when
 * it falls below `thresholdPercent`, and `disk-space-ok` once it is back above. Returns the stop function.
 */
export function watchDiskSpace(options: {
  readonly path: string;
  readonly thresholdPercent: number;
  readonly intervalMs: number;
  readonly events: EventBus;
  readonly log: Logger;
  readonly read?: (path: string) => Promise<DiskSpaceReading>;
  /** The first check waits for it (the server's `started` event comes first). */
  readonly after?: Promise<unknown>;
}): () => void {
  const { path, thresholdPercent, events, log } = options;
  const read = options.read ?? readDiskSpace;
  let low = false;
  let failedBefore = false;
  const check = async () => {
    let reading: DiskSpaceReading;
    try {
      reading = await read(path);
      failedBefore = false;
    } catch (err) {
      if (!failedBefore) log.error({ err, path }, 'cannot read the free space of the data dir');
      failedBefore = true;
      return;
    }
    const freePercent = Math.round(reading.freePercent * 10) / 10;
    if (!low && reading.freePercent < thresholdPercent) {
      low = true;
      log.warn({ path, freePercent, freeBytes: reading.freeBytes, thresholdPercent }, 'disk space low');
      void events.emit({
        type: 'system',
        phase: 'disk-space-low',
        at: new Date(),
        sessionId: '',
        path,
        freePercent,
        freeBytes: reading.freeBytes,
        thresholdPercent,
      });
    } else if (low && reading.freePercent >= thresholdPercent) {
      low = false;
      log.info({ path, freePercent, thresholdPercent }, 'disk space back above the threshold');
      void events.emit({
        type: 'system',
        phase: 'disk-space-ok',
        at: new Date(),
        sessionId: '',
        path,
        freePercent,
      });
    }
  };
  void (options.after ?? Promise.resolve()).then(check);
  const timer = setInterval(() => void check(), options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
