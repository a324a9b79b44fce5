// Live events across the workers of `serve --workers N`: each worker sends its events to the primary, which numbers
// them and sends each to every worker, so every event stream sees every process' events, in one order, once.

import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { EventBus } from '../events/bus.js';
import { EventFeed, eventJson, noticeMessage } from './event-feed.js';

type RelayMessage =
  /** Worker → primary: one event of that worker (`lost`: events it could not send since the last one). */
  | { readonly type: 'ferry-event'; readonly kind: string; readonly data: string; readonly lost?: number }
  /** Primary → every worker: the event numbered; `lost` as above, plus what this worker's pipe could not take. */
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

/** The primary's numbering: one epoch per primary, so ids from another run are recognised as such. */
const EPOCH = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x');
let seq = 0;
const backlog = new WeakMap<Worker, { pending: number; lost: number }>();

/**
 * In the primary: numbers a worker's event and sends it to every connected worker (the sender too, so that all
 * streams share one numbering). Returns false for any other message.
 */
export function relayWorkerEvent(message: unknown): boolean {
  const m = message as RelayMessage | undefined;
  if (m?.type !== 'ferry-event') return false;
  const number = ++seq;
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (!worker?.isConnected()) continue;
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

/**
 * The process' feed: under --workers N fed by the primary's relay (this process' events go there first), else
 * straight from its own bus. Returns the feed and the function that stops feeding it.
 */
export function startEventFeed(events: EventBus): { feed: EventFeed; stop: () => void } {
  const relayed = cluster.isWorker && process.send !== undefined;
  const feed = new EventFeed(relayed ? 'pending' : EPOCH);
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
    if (message?.type !== 'ferry-event-relayed') return;
    if (message.lost)
      feed.notice(noticeMessage('gap', { reason: 'events were lost on the way', lost: message.lost }));
    feed.publish(message.epoch, message.seq, message.kind, message.data);
  };
  if (relayed) process.on('message', onMessage);
  return {
    feed,
    stop: () => {
      subscription();
      if (relayed) process.off('message', onMessage);
    },
  };
}
