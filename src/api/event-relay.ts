// A process' live event feed; under `serve --workers N` each worker sends its events to the primary, which numbers
// them, keeps the newest for replay and sends each to the workers that have readers, so every event stream sees
// every process' events, in one order, once.

/*
 * A worker asks for the stream when its first reader comes (the primary answers with its ring, then the live
 * events, in that order on the one IPC channel) and gives it back ten minutes after its last reader left, so a
 * reader that reconnects within that time finds its Last-Event-ID either way. It sends its own events only while
 * the primary wants them (someone reads somewhere); why, and how that is switched on without losing an event:
 * event-relay-primary.ts.
 */

import type { EventBus } from '../events/bus.js';
import { primaryLink, type WorkerEnd, workerEnds } from '../util/worker-link.js';
import { EventFeed, eventJson, newEpoch, noticeMessage, REPLAY_RING } from './event-feed.js';
import { EventRelayPrimary, MAX_IPC_BACKLOG, type RelayMessage } from './event-relay-primary.js';

/** Events a process' bus holds for the feed before the oldest is dropped (counted the same way). */
const BUS_QUEUE = 10_000;
/**
 * How long a worker keeps receiving events after its last reader left: a reconnect within it finds them (as far as
 * the ring holds them: about a minute of a busy server's events).
 */
export const LIVE_AFTER_LAST_READER_MS = 10 * 60_000;

/** The time above; tests shorten it with FERRY_EVENTS_GRACE_MS (environment, not config). */
function graceMs(): number {
  const value = Number(process.env.FERRY_EVENTS_GRACE_MS);
  return Number.isInteger(value) && value > 0 ? value : LIVE_AFTER_LAST_READER_MS;
}
/** How long a new reader waits for the primary's ring before it is served what this worker holds. */
const RING_WAIT_MS = 5000;

/** The epoch of a process that numbers its own events (no --workers). */
const EPOCH = newEpoch();

let primary: EventRelayPrimary | undefined;

/** In the primary: handles a worker's relay message (event-relay-primary.ts); false for any other message. */
export function relayWorkerEvent(from: WorkerEnd, message: unknown): boolean {
  primary ??= new EventRelayPrimary({ workers: workerEnds });
  return primary.handle(from, message);
}

export interface EventFeedHandle {
  readonly feed: EventFeed;
  /** Resolves when the feed holds every process' events (under --workers N: once the primary sent its ring). */
  ready(): Promise<void>;
  stop(): void;
}

/**
 * A worker's channel to the primary, as the feed uses it: its primary link (util/worker-link.ts), whose `send` is
 * false when the channel is gone.
 */
export interface RelayChannel {
  send(message: RelayMessage, done?: () => void): boolean;
  onMessage(listener: (message: RelayMessage) => void): () => void;
}

/**
 * The process' feed: under --workers N fed by the primary's relay while it has readers (this process' events go
 * to the primary first), else straight from its own bus. `channel` is for tests.
 */
export function startEventFeed(
  events: EventBus,
  channel: RelayChannel | undefined = primaryLink(),
): EventFeedHandle {
  const relayed = channel !== undefined;
  let streaming = false;
  /** Whether the primary wants this worker's events (someone reads somewhere); it says so when it changes. */
  let sending = true;
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
      channel?.send({ type: 'ferry-events-live', on: false });
    }, graceMs());
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
      if (relayed && !sending) {
        // Nobody reads: neither sent nor counted as lost (a resume from before this says gap anyway).
        lost = 0;
        return;
      }
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
      const sent = channel?.send(
        { type: 'ferry-event', kind: event.type, data, ...(lost > 0 ? { lost } : {}) },
        () => {
          pending--;
        },
      );
      if (!sent) pending--;
      lost = 0;
    },
    { name: 'api-event-feed', maxQueue: BUS_QUEUE },
  );
  const onMessage = (message: RelayMessage) => {
    if (message?.type === 'ferry-events-wanted') {
      sending = message.on;
      // Events from here on follow the acknowledgement on this channel (see event-relay-primary.ts).
      if (sending) channel?.send({ type: 'ferry-events-wanted-ack' });
      return;
    }
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
  const unlisten = channel?.onMessage(onMessage);
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
      channel?.send({ type: 'ferry-events-live', on: true });
    });
    return waiting;
  };
  return {
    feed,
    ready,
    stop: () => {
      clearTimeout(giveBack);
      subscription();
      unlisten?.();
    },
  };
}
