// A worker's side of the event relay: it sends its events only while the primary wants them, acknowledges before
// the events that follow, takes the ring for its first reader, and gives the stream back after its last one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus } from '../events/bus.js';
import type { FerryEvent } from '../events/types.js';
import { type RelayChannel, startEventFeed } from './event-relay.js';
import type { RelayMessage } from './event-relay-primary.js';

function fakeChannel(): { channel: RelayChannel; sent: RelayMessage[]; deliver(m: RelayMessage): void } {
  const sent: RelayMessage[] = [];
  let listener: ((m: RelayMessage) => void) | undefined;
  return {
    sent,
    channel: {
      send(message, done) {
        sent.push(message);
        done?.();
        return true;
      },
      onMessage(l) {
        listener = l;
        return () => {
          listener = undefined;
        };
      },
    },
    deliver: (m) => listener?.(m),
  };
}

function mkdir(path: string): FerryEvent {
  return {
    type: 'file-op',
    at: new Date(),
    sessionId: 's',
    username: 'alice',
    protocol: 'sftp',
    operation: 'mkdir',
    path,
    ok: true,
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
const eventsSent = (sent: readonly RelayMessage[]) =>
  sent.flatMap((m) => (m.type === 'ferry-event' ? [JSON.parse(m.data).path as string] : []));

describe('startEventFeed (a worker)', () => {
  it('sends events until told nobody reads, then none, and acknowledges before sending again', async () => {
    const bus = new EventBus();
    const { channel, sent, deliver } = fakeChannel();
    const handle = startEventFeed(bus, channel);
    await bus.emit(mkdir('/sent-at-start'));
    await settle();
    assert.deepEqual(eventsSent(sent), ['/sent-at-start'], 'a new worker sends until told otherwise');

    deliver({ type: 'ferry-events-wanted', on: false });
    await bus.emit(mkdir('/nobody-reads'));
    await settle();
    assert.deepEqual(eventsSent(sent), ['/sent-at-start'], 'nothing sent while nobody reads');

    deliver({ type: 'ferry-events-wanted', on: true });
    assert.equal(sent.at(-1)?.type, 'ferry-events-wanted-ack');
    await bus.emit(mkdir('/read-again'));
    await settle();
    assert.deepEqual(eventsSent(sent), ['/sent-at-start', '/read-again']);
    assert.ok(
      sent.findIndex((m) => m.type === 'ferry-events-wanted-ack') <
        sent.findIndex((m) => m.type === 'ferry-event' && m.data.includes('/read-again')),
      'the acknowledgement goes before the events after it',
    );
    handle.stop();
  });

  it('a first reader asks to stream and waits for the ring; live events follow it', async () => {
    const bus = new EventBus();
    const { channel, sent, deliver } = fakeChannel();
    const handle = startEventFeed(bus, channel);
    let ready = false;
    const waiting = handle.ready().then(() => {
      ready = true;
    });
    await settle();
    assert.deepEqual(sent.at(-1), { type: 'ferry-events-live', on: true });
    assert.equal(ready, false, 'not before the ring');
    // Relayed events before the ring are not this worker's to show (the ring holds them).
    deliver({ type: 'ferry-event-relayed', epoch: 'E', seq: 4, kind: 'file-op', data: '{"n":4}' });
    deliver({
      type: 'ferry-events-ring',
      epoch: 'E',
      last: 5,
      entries: [
        { seq: 4, kind: 'file-op', data: '{"n":4}' },
        { seq: 5, kind: 'file-op', data: '{"n":5}' },
      ],
    });
    await waiting;
    const got: string[] = [];
    const unsubscribe = handle.feed.subscribe((m) => got.push(m), 'E-3');
    deliver({ type: 'ferry-event-relayed', epoch: 'E', seq: 6, kind: 'file-op', data: '{"n":6}' });
    assert.deepEqual(
      got.map((m) => /^id: (\S+)/.exec(m)?.[1]),
      ['E-4', 'E-5', 'E-6'],
    );
    unsubscribe();
    handle.stop();
  });

  it('gives the stream back once its last reader has been gone for the grace time', async () => {
    process.env.FERRY_EVENTS_GRACE_MS = '30';
    try {
      const bus = new EventBus();
      const { channel, sent, deliver } = fakeChannel();
      const handle = startEventFeed(bus, channel);
      const waiting = handle.ready();
      deliver({ type: 'ferry-events-ring', epoch: 'E', last: 0, entries: [] });
      await waiting;
      const unsubscribe = handle.feed.subscribe(() => {});
      unsubscribe();
      assert.notDeepEqual(sent.at(-1), { type: 'ferry-events-live', on: false }, 'not at once');
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.deepEqual(sent.at(-1), { type: 'ferry-events-live', on: false });
      handle.stop();
    } finally {
      delete process.env.FERRY_EVENTS_GRACE_MS;
    }
  });
});
