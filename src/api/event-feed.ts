// The live event feed behind GET /api/events: numbered SSE messages, a short replay ring for Last-Event-ID, fan-out.
import { randomBytes } from 'node:crypto';
import type { FerryEvent } from '../events/types.js';

/** Events kept for a reconnecting reader (`Last-Event-ID`): about a minute of a busy server's events. */
export const REPLAY_RING = 2000;

/** Field names that would carry a secret if one ever reached an event: replaced, never streamed. */
const SECRET_FIELD = /pass(word|phrase)|secret|token|private|^key$|otpauth|recovery/i;

/**
 * An event as one line of JSON for the wire (dates as ISO strings). Events carry no secrets by design (admin diffs
 * are redacted by the recorder); this is the stream's own last line of defence.
 */
export function eventJson(event: FerryEvent): string {
  return JSON.stringify(event, (key, value) =>
    key !== '' && SECRET_FIELD.test(key) && typeof value !== 'boolean' ? '(redacted)' : value,
  );
}

/** A message with no id (a notice about the stream itself): it leaves the reader's Last-Event-ID as it was. */
export function noticeMessage(name: 'gap' | 'overflow', data: Record<string, unknown>): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

interface Entry {
  readonly seq: number;
  readonly message: string;
}

export type FeedSink = (message: string) => void;

/** One numbered event as the primary holds it for workers that start streaming (event-relay.ts). */
export interface FeedEntry {
  readonly seq: number;
  readonly kind: string;
  readonly data: string;
}

/** A new numbering's name (one per process that numbers events: the primary, or a single process). */
export function newEpoch(): string {
  return randomBytes(6).toString('base64url').replace(/[-_]/g, 'x');
}

/** The message a reader gets for an event. */
export function eventMessage(epoch: string, seq: number, type: string, json: string): string {
  return `id: ${epoch}-${seq}\nevent: ${type}\ndata: ${json}\n\n`;
}

/**
 * Messages in the order the feed was given them, each with the id `<epoch>-<seq>`: the epoch names the numbering
 * (one per `ferry serve`; the primary's under --workers N), so an id from another run is never taken for this one.
 */
export class EventFeed {
  readonly #ring: (Entry | undefined)[];
  readonly #sinks = new Set<FeedSink>();
  #epoch: string;
  /** The seq of the newest entry (0: none yet). */
  #last = 0;
  readonly #onEmpty: (() => void) | undefined;

  /** `onEmpty`: told when the last reader leaves. */
  constructor(epoch: string, ringSize = REPLAY_RING, onEmpty?: () => void) {
    this.#epoch = epoch;
    this.#ring = new Array<Entry | undefined>(Math.max(1, ringSize));
    this.#onEmpty = onEmpty;
  }

  get subscribers(): number {
    return this.#sinks.size;
  }

  /** Adds the event numbered `seq` (the next one, or after a gap the relay reported) and hands it to every reader. */
  publish(epoch: string, seq: number, type: string, json: string): void {
    if (epoch !== this.#epoch) {
      // A new primary numbers afresh: what the ring holds can no longer be resumed from.
      this.#epoch = epoch;
      this.#ring.fill(undefined);
    }
    const message = eventMessage(epoch, seq, type, json);
    this.#ring[seq % this.#ring.length] = { seq, message };
    this.#last = seq;
    for (const sink of this.#sinks) sink(message);
  }

  /**
   * Replaces what the ring holds with `entries` (ascending) of numbering `epoch`, whose newest number is `last`:
   * a worker that starts streaming again takes the primary's ring, as it got no events while nobody read.
   */
  reset(epoch: string, last: number, entries: readonly FeedEntry[]): void {
    this.#epoch = epoch;
    this.#ring.fill(undefined);
    for (const entry of entries)
      this.#ring[entry.seq % this.#ring.length] = {
        seq: entry.seq,
        message: eventMessage(epoch, entry.seq, entry.kind, entry.data),
      };
    this.#last = last;
  }

  /** The next number, for a feed that numbers its own events (one process). */
  get next(): number {
    return this.#last + 1;
  }

  get epoch(): string {
    return this.#epoch;
  }

  /** Tells every reader something about the stream (events lost on the way). */
  notice(message: string): void {
    for (const sink of this.#sinks) sink(message);
  }

  /**
   * A new reader. With `lastEventId`, first what it missed from the ring, or a `gap` notice when that is not
   * there any more (or the id is not this run's); then live messages.
   */
  subscribe(sink: FeedSink, lastEventId?: string): () => void {
    if (lastEventId !== undefined) for (const message of this.#replay(lastEventId)) sink(message);
    this.#sinks.add(sink);
    return () => {
      if (this.#sinks.delete(sink) && this.#sinks.size === 0) this.#onEmpty?.();
    };
  }

  #replay(lastEventId: string): string[] {
    const match = /^([A-Za-z0-9]{1,32})-(\d{1,15})$/.exec(lastEventId);
    const seq = Number(match?.[2]);
    if (!match || match[1] !== this.#epoch || seq > this.#last)
      return [
        noticeMessage('gap', { reason: 'unknown Last-Event-ID', lastEventId: lastEventId.slice(0, 64) }),
      ];
    const missed: string[] = [];
    for (let s = seq + 1; s <= this.#last; s++) {
      const entry = this.#ring[s % this.#ring.length];
      // Overwritten by a newer one, or lost on the way: the reader is told it did not get everything.
      if (entry?.seq !== s) {
        missed.length = 0;
        missed.push(
          noticeMessage('gap', { reason: 'events since Last-Event-ID are no longer held', lastEventId }),
        );
        for (let t = s + 1; t <= this.#last; t++) {
          const later = this.#ring[t % this.#ring.length];
          if (later?.seq === t) missed.push(later.message);
        }
        return missed;
      }
      missed.push(entry.message);
    }
    return missed;
  }
}
