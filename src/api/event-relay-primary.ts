// The primary's side of the event relay (`serve --workers N`): numbers the workers' events, keeps the newest for
// replay, sends them to the workers that have readers, and tells the workers whether anyone reads at all.

/*
 * Why: every event went to every worker, and every worker sent every event, whether or not anyone read the
 * stream: ~0.13-0.17 ms of CPU per small upload in the primary and the other worker (docs/PERFORMANCE.md). Now
 * a worker sends events only while some worker streams, and receives them only while it streams itself.
 *
 * When nobody streams, the workers send nothing. Turning that back on must not lose an event that happens after
 * a new reader subscribed: the primary tells every worker to send again and hands the new reader's worker the
 * ring only once each has acknowledged (a worker's events after its acknowledgement come after it on the same
 * channel, so after the ring). The numbering skips one number at that point, so a reader resuming from before
 * the quiet time gets a `gap` notice instead of a silent jump.
 */

import type { WorkerEnd as Worker } from '../util/worker-link.js';
import { type FeedEntry, newEpoch, REPLAY_RING } from './event-feed.js';

export type RelayMessage =
  /** Worker → primary: one event of that worker (`lost`: events it could not send since the last one). */
  | { readonly type: 'ferry-event'; readonly kind: string; readonly data: string; readonly lost?: number }
  /** Worker → primary: send me the events (with the ring first), or stop (no readers here any more). */
  | { readonly type: 'ferry-events-live'; readonly on: boolean }
  /** Primary → every worker: send your events (acknowledge), or don't (nobody reads). */
  | { readonly type: 'ferry-events-wanted'; readonly on: boolean }
  /** Worker → primary: it sends its events from now on. */
  | { readonly type: 'ferry-events-wanted-ack' }
  /** Primary → a worker that asked: what the primary holds, oldest first, and the newest number. */
  | {
      readonly type: 'ferry-events-ring';
      readonly epoch: string;
      readonly last: number;
      readonly entries: readonly FeedEntry[];
    }
  /** Primary → every worker with readers: the event numbered; `lost` as above, plus what this worker's pipe could not take. */
  | {
      readonly type: 'ferry-event-relayed';
      readonly epoch: string;
      readonly seq: number;
      readonly kind: string;
      readonly data: string;
      readonly lost?: number;
    };

/**
 * Messages written to an IPC pipe but not yet flushed, at most, per pipe. Beyond it an event is dropped and
 * counted (the readers get a `gap` notice) rather than queued in memory without bound behind a stuck process.
 */
export const MAX_IPC_BACKLOG = 5000;
/** How long the primary waits for the workers' acknowledgements before it hands out the ring anyway. */
export const ACK_WAIT_MS = 2000;

export interface RelayPrimaryOptions {
  /** Every worker now (cluster.workers). */
  readonly workers: () => Iterable<Worker>;
  readonly ringSize?: number;
  readonly ackWaitMs?: number;
}

export class EventRelayPrimary {
  /** One numbering per primary, so ids from another run are recognised as such. */
  readonly epoch = newEpoch();
  readonly #workers: () => Iterable<Worker>;
  readonly #ring: (FeedEntry | undefined)[];
  readonly #ackWaitMs: number;
  #seq = 0;
  readonly #backlog = new WeakMap<Worker, { pending: number; lost: number }>();
  /** Workers that stream (they have readers, or had within the grace time, event-relay.ts). */
  readonly #live = new Set<Worker>();
  /** Workers waiting for their ring until every worker acknowledged sending. */
  readonly #starting = new Set<Worker>();
  /** Workers asked to send that have not acknowledged yet. */
  readonly #unacknowledged = new Set<Worker>();
  #ackTimer: NodeJS.Timeout | undefined;
  /**
   * Whether the workers were told to send. Nobody reads at first; a worker sends from its start until its first
   * event here gets it told otherwise (a restarted worker alike).
   */
  #wanted = false;
  /** Workers told to stop since the last change (told once each: an event in flight may still come). */
  readonly #toldOff = new Set<Worker>();

  constructor(options: RelayPrimaryOptions) {
    this.#workers = options.workers;
    this.#ring = new Array<FeedEntry | undefined>(Math.max(1, options.ringSize ?? REPLAY_RING));
    this.#ackWaitMs = options.ackWaitMs ?? ACK_WAIT_MS;
  }

  /** Handles a worker's relay message; false for any other message. */
  handle(from: Worker, message: unknown): boolean {
    const m = message as RelayMessage | undefined;
    switch (m?.type) {
      case 'ferry-event':
        this.#event(from, m);
        return true;
      case 'ferry-events-live':
        if (m.on) this.#start(from);
        else this.#stop(from);
        return true;
      case 'ferry-events-wanted-ack':
        this.#acknowledged(from);
        return true;
      default:
        return false;
    }
  }

  /** The ring's entries, oldest first. */
  #entries(): FeedEntry[] {
    const entries: FeedEntry[] = [];
    for (let s = Math.max(1, this.#seq - this.#ring.length + 1); s <= this.#seq; s++) {
      const entry = this.#ring[s % this.#ring.length];
      if (entry?.seq === s) entries.push(entry);
    }
    return entries;
  }

  #connected(): Worker[] {
    return [...this.#workers()].filter((w) => w?.isConnected());
  }

  #start(worker: Worker): void {
    this.#starting.add(worker);
    if (this.#wanted && this.#unacknowledged.size === 0) {
      this.#handOut();
      return;
    }
    if (!this.#wanted) {
      this.#wanted = true;
      this.#toldOff.clear();
      // Events stopped for a while: a number nobody gets, so a resume from before it says gap.
      this.#seq++;
      for (const w of this.#connected()) {
        this.#unacknowledged.add(w);
        w.send({ type: 'ferry-events-wanted', on: true } satisfies RelayMessage);
      }
      this.#ackTimer = setTimeout(() => {
        this.#unacknowledged.clear();
        this.#handOut();
      }, this.#ackWaitMs);
      this.#ackTimer.unref();
    }
    if (this.#unacknowledged.size === 0) this.#handOut();
  }

  #acknowledged(worker: Worker): void {
    this.#unacknowledged.delete(worker);
    for (const w of this.#unacknowledged) if (!w.isConnected()) this.#unacknowledged.delete(w);
    if (this.#unacknowledged.size === 0) this.#handOut();
  }

  /** Every starting worker gets the ring, then live events (in that order on its channel). */
  #handOut(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    for (const worker of this.#starting) {
      if (!worker.isConnected()) continue;
      worker.send({
        type: 'ferry-events-ring',
        epoch: this.epoch,
        last: this.#seq,
        entries: this.#entries(),
      } satisfies RelayMessage);
      this.#live.add(worker);
    }
    this.#starting.clear();
  }

  #stop(worker: Worker): void {
    this.#live.delete(worker);
    this.#starting.delete(worker);
    for (const w of this.#live) if (!w.isConnected()) this.#live.delete(w);
    if (this.#live.size > 0 || this.#starting.size > 0 || !this.#wanted) return;
    this.#wanted = false;
    for (const w of this.#connected()) {
      this.#toldOff.add(w);
      w.send({ type: 'ferry-events-wanted', on: false } satisfies RelayMessage);
    }
  }

  #event(from: Worker, m: Extract<RelayMessage, { type: 'ferry-event' }>): void {
    if (!this.#wanted && !this.#toldOff.has(from)) {
      // A worker that started after the others were told (a restarted one sends from the start).
      this.#toldOff.add(from);
      from.send({ type: 'ferry-events-wanted', on: false } satisfies RelayMessage);
    }
    const number = ++this.#seq;
    this.#ring[number % this.#ring.length] = { seq: number, kind: m.kind, data: m.data };
    for (const worker of this.#live) {
      if (!worker.isConnected()) {
        this.#live.delete(worker);
        continue;
      }
      let state = this.#backlog.get(worker);
      if (!state) {
        state = { pending: 0, lost: 0 };
        this.#backlog.set(worker, state);
      }
      if (state.pending >= MAX_IPC_BACKLOG) {
        state.lost++;
        continue;
      }
      const lost = state.lost + (m.lost ?? 0);
      state.lost = 0;
      state.pending++;
      const counted = state;
      worker.send(
        {
          type: 'ferry-event-relayed',
          epoch: this.epoch,
          seq: number,
          kind: m.kind,
          data: m.data,
          ...(lost > 0 ? { lost } : {}),
        } satisfies RelayMessage,
        () => {
          counted.pending--;
        },
      );
    }
  }
}
