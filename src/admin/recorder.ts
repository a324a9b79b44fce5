// Emits one admin event per change and waits for its audit record; redacts anything secret that slipped into a diff.
import type { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { Actor, AdminAction, AdminEvent } from '../events/types.js';
import { loggers } from '../logger.js';
import type { StoreNotifications } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { actorSchema } from './actor.js';

/** Told an admin event's audit record (the audit writer); rejects when it could not be committed. */
export interface AdminRecordTracker {
  committed(event: AdminEvent): Promise<unknown> | undefined;
}

const PRIVATE_MATERIAL = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY|PRIVATE KEY BLOCK|^otpauth:/;

/**
 * A last line of defence: services put markers ('set', fingerprints) in their diffs, but a Secret or a
 * private key that reached one is replaced, never recorded.
 */
export function redactChanges(value: unknown): unknown {
  if (value instanceof Secret) return '(set)';
  if (typeof value === 'string') return PRIVATE_MATERIAL.test(value) ? '(redacted)' : value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return '(redacted)';
  if (Array.isArray(value)) return value.map(redactChanges);
  if (value instanceof Date || value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactChanges(v)]));
}

/**
 * The NOTIFY channel (PostgreSQL stores) telling serving processes that something they keep in memory changed in
 * the store; the payload is the admin action. Serving processes re-read at once instead of at their next poll.
 */
export const STORE_CHANGE_CHANNEL = 'ferry_changed';

/** Actions whose results serving processes hold in memory: host keys (presented to every client), defender lists. */
const ANNOUNCED = /^(keys\.host\.|defender\.(allow|deny)\.)/;

export class AdminRecorder {
  readonly #events: EventBus;
  readonly #tracker: AdminRecordTracker | undefined;
  readonly #now: () => Date;
  readonly #notifications: StoreNotifications | undefined;

  constructor(
    events: EventBus,
    tracker?: AdminRecordTracker,
    now: () => Date = () => new Date(),
    notifications?: StoreNotifications,
  ) {
    this.#events = events;
    this.#tracker = tracker;
    this.#now = now;
    this.#notifications = notifications;
  }

  /** Emits the change and returns once its audit record is committed; throws when it could not be. */
  async record(
    actor: Actor,
    action: AdminAction,
    subject?: string,
    changes?: Readonly<Record<string, unknown>>,
  ): Promise<AdminEvent> {
    const event: AdminEvent = {
      type: 'admin',
      at: this.#now(),
      actor,
      action,
      ...(subject !== undefined ? { subject } : {}),
      ...(changes !== undefined ? { changes: redactChanges(changes) as Record<string, unknown> } : {}),
    };
    await this.#events.emit(event);
    await this.#tracker?.committed(event);
    // The change is stored: every serving process may re-read it now. A lost notification costs one poll.
    if (this.#notifications && ANNOUNCED.test(action))
      await this.#notifications
        .notify(STORE_CHANGE_CHANNEL, action)
        .catch((err: unknown) =>
          loggers.store.warn({ err, action }, 'change not announced; nodes see it at their next poll'),
        );
    return event;
  }
}

/** Validates an input against its schema; the first problem becomes an InvalidArgumentError naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new InvalidArgumentError(`${where}${issue?.message ?? 'invalid input'}`);
}

/** Every service function takes an actor first; a malformed one (from an API) is refused before anything happens. */
export function checkActor(actor: Actor): Actor {
  return parseInput(actorSchema, actor);
}
