// Live events across the workers of `serve --workers N`: each worker sends its events to the primary, which numbers
// them, keeps the newest for replay and sends each to the workers that have readers, so every event stream sees
// every process' events, in one order, once.

/*
 * Why only to workers with readers: every event went to every worker, so each upload cost each idle worker and
 * the primary a message while nobody watched (~0.13-0.17 ms of CPU per upload of a small file in the two,
 * ~10 % of the server's CPU for such files; docs/PERFORMANCE.md). A worker asks for the stream when its first
 * reader comes (the primary answers with its ring, then the live events, in that order on the one IPC channel)
 * and gives it back a while after its last reader left, so a reader that reconnects within the replay window
 * finds its Last-Event-ID either way.
 */

import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { EventBus } from '../events/bus.js';
import { EventFeed, eventJson, type FeedEntry, noticeMessage, REPLAY_RING } from './event-feed.js';

type RelayMessage =
  /** Worker → primary: one event of that worker (`lost`: events it could not send since the last one). */
  | { readonly type: 'ferry-event'; readonly kind: string; readonly data: string; readonly lost?: number }
  /** Worker → primary: send me the events (with the ring first), or stop (no readers here any more). */
  | { readonly type: 'ferry-events-live'; readonly on: boolean }
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
/** Events a process' bus holds for the feed before the oldest is dropped (counted the same way). */
const BUS_QUEUE = 10_000;
/** How long a worker keeps receiving events after its last reader left: a reconnect finds them. */
export const LIVE_AFTER_LAST_READER_MS = 60_000;
/** How long a new reader waits for the primary's ring before it is served what this worker holds. */
const RING_WAIT_MS = 5000;

/** The primary's numbering: one epoch per primary, so ids from another run are recognised as such. */
const EPOCH = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x');
let seq = 0;
const ring = new Array<FeedEntry | undefined>(REPLAY_RING);
const backlog = new WeakMap<Worker, { pending: number; lost: number }>();
/** Workers that asked for the events (they have readers, or had within LIVE_AFTER_LAST_READER_MS). */
const live = new Set<Worker>();

/** The ring's entries, oldest first. */
function ringEntries(): FeedEntry[] {
  const entries: FeedEntry[] = [];
  for (let s = Math.max(1, seq - ring.length + 1); s <= seq; s++) {
    const entry = ring[s % ring.length];
    if (entry?.seq === s) entries.push(entry);
  }
  return entries;
}

/**
 * In the primary: numbers a worker's event, keeps it, and sends it to every worker that streams (the sender too
 * when it does, so that all streams share one numbering); answers a worker's request to stream. Returns false
 * for any other message.
 */
export function relayWorkerEvent(from: Worker, message: unknown): boolean {
  const m = message as RelayMessage | undefined;
  if (m?.type === 'ferry-events-live') {
    if (!m.on) {
      live.delete(from);
      return true;
    }
    // The ring before any live event: both go down the same channel in this order.
    from.send({
      type: 'ferry-events-ring',
      epoch: EPOCH,
      last: seq,
      entries: ringEntries(),
    } satisfies RelayMessage);
    live.add(from);
    return true;
  }
  if (m?.type !== 'ferry-event') return false;
  const number = ++seq;
  ring[number % ring.length] = { seq: number, kind: m.kind, data: m.data };
  for (const worker of live) {
    if (!worker.isConnected()) {
      live.delete(worker);
      continue;
    }
    let state = backlog.get(worker);
    if (!state) {
      state = { pending: 0, lost: 0 };
      backlog.set(worker, state);
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
        epoch: EPOCH,
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
  return true;
}

export interface EventFeedHandle {
  readonly feed: EventFeed;
  /** Resolves when the feed holds every process' events (under --workers N: once the primary sent its ring). */
  ready(): Promise<void>;
  stop(): void;
}

/**
 * The process' feed: under --workers N fed by the primary's relay while it has readers (this process' events go
 * to the primary first), else straight from its own bus.
 */
export function startEventFeed(events: EventBus): EventFeedHandle {
  const relayed = cluster.isWorker && process.send !== undefined;
  let streaming = false;
  let waiting: Promise<void> | undefined;
  let arrived: (() => void) | undefined;
  let giveBack: NodeJS.Timeout | undefined;
  const feed = new EventFeed(relayed ? 'pending' : EPOCH, REPLAY_RING, () => {
    if (!relayed) return;
    clearTimeout(giveBack);
    giveBack = setTimeout(() => {
      if (feed.subscribers > 0 || !streaming) return;
      streaming = false;
      waiting = undefined;
      process.send?.({ type: 'ferry-events-live', on: false } satisfies RelayMessage);
    }, LIVE_AFTER_LAST_READER_MS);
    giveBack.unref();
  });
  let pending = 0;
  let lost = 0;
  let droppedByBus = 0;
  const subscription = events.subscribeQueued(
    (event) => {
      // The bus drops the oldest when this falls behind (it logs each): count them as lost too.
      const dropped = subscription.stats.dropped;
      lost += dropped - droppedByBus;
      droppedByBus = dropped;
      const data = eventJson(event);
      if (!relayed) {
        if (lost > 0) feed.notice(noticeMessage('gap', { reason: 'events were lost', lost }));
        lost = 0;
        feed.publish(feed.epoch, feed.next, event.type, data);
        return;
      }
      if (pending >= MAX_IPC_BACKLOG) {
        lost++;
        return;
      }
      pending++;
      const sent = process.send?.(
        { type: 'ferry-event', kind: event.type, data, ...(lost > 0 ? { lost } : {}) } satisfies RelayMessage,
        undefined,
        undefined,
        () => {
          pending--;
        },
      );
      if (sent === undefined) pending--;
      lost = 0;
    },
    { name: 'api-event-feed', maxQueue: BUS_QUEUE },
  );
  const onMessage = (message: RelayMessage) => {
    if (message?.type === 'ferry-events-ring') {
      feed.reset(message.epoch, message.last, message.entries);
      streaming = true;
      arrived?.();
      return;
    }
    if (message?.type !== 'ferry-event-relayed' || !streaming) return;
    if (message.lost)
      feed.notice(noticeMessage('gap', { reason: 'events were lost on the way', lost: message.lost }));
    feed.publish(message.epoch, message.seq, message.kind, message.data);
  };
  if (relayed) process.on('message', onMessage);
  const ready = (): Promise<void> => {
    // A give-back timer still running finds this reader subscribed and keeps the stream.
    if (!relayed || streaming) return Promise.resolve();
    waiting ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, RING_WAIT_MS);
      timer.unref();
      arrived = () => {
        clearTimeout(timer);
        arrived = undefined;
        resolve();
      };
      process.send?.({ type: 'ferry-events-live', on: true } satisfies RelayMessage);
    });
    return waiting;
  };
  return {
    feed,
    ready,
    stop: () => {
      clearTimeout(giveBack);
      subscription();
      if (relayed) process.off('message', onMessage);
    },
  };
}
