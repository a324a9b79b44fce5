// The primary's relay sends events only to workers that stream, hands a worker that starts the ring first, and a
// worker's feed rebuilt from that ring replays a Last-Event-ID as one that saw every event would.
import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { describe, it } from 'node:test';
import { EventFeed } from './event-feed.js';
import { relayWorkerEvent } from './event-relay.js';

interface Sent {
  readonly type: string;
  readonly seq?: number;
  readonly data?: string;
  readonly last?: number;
  readonly epoch?: string;
  readonly entries?: readonly { seq: number; kind: string; data: string }[];
}

/** A worker as the relay sees one: connected, recording what it is sent (and acknowledging it at once). */
function fakeWorker(): { worker: Worker; sent: Sent[] } {
  const sent: Sent[] = [];
  const worker = {
    isConnected: () => true,
    send(message: Sent, callback?: () => void) {
      sent.push(message);
      callback?.();
      return true;
    },
  } as unknown as Worker;
  return { worker, sent };
}

const event = (data: string) => ({ type: 'ferry-event', kind: 'file-op', data });

describe('relayWorkerEvent (primary)', () => {
  it('sends events only to workers that asked to stream, the ring first, and stops when told', () => {
    const a = fakeWorker();
    const b = fakeWorker();
    assert.equal(relayWorkerEvent(a.worker, { type: 'something-else' }), false);

    // Nobody streams: the event is numbered and kept, sent to no one (the sender neither).
    assert.equal(relayWorkerEvent(a.worker, event('"one"')), true);
    assert.equal(a.sent.length, 0);
    assert.equal(b.sent.length, 0);

    // b starts: it gets the ring (holding "one") before any live event.
    relayWorkerEvent(b.worker, { type: 'ferry-events-live', on: true });
    assert.equal(b.sent.length, 1);
    const ring = b.sent[0]!;
    assert.equal(ring.type, 'ferry-events-ring');
    const one = ring.entries?.at(-1);
    assert.equal(one?.data, '"one"');
    assert.equal(ring.last, one?.seq);

    relayWorkerEvent(a.worker, event('"two"'));
    assert.equal(a.sent.length, 0, 'a worker without readers gets nothing');
    assert.equal(b.sent.length, 2);
    assert.equal(b.sent[1]!.type, 'ferry-event-relayed');
    assert.equal(b.sent[1]!.data, '"two"');
    assert.equal(b.sent[1]!.seq, one!.seq + 1);

    // a starts too: its ring has both, in order, and the same numbers b saw.
    relayWorkerEvent(a.worker, { type: 'ferry-events-live', on: true });
    const aRing = a.sent[0]!;
    assert.deepEqual(
      aRing.entries?.slice(-2).map((e) => [e.seq, e.data]),
      [
        [one!.seq, '"one"'],
        [one!.seq + 1, '"two"'],
      ],
    );

    // b's readers left: b gets no more.
    relayWorkerEvent(b.worker, { type: 'ferry-events-live', on: false });
    relayWorkerEvent(b.worker, event('"three"'));
    assert.equal(b.sent.length, 2);
    assert.equal(a.sent.at(-1)?.data, '"three"');
    relayWorkerEvent(a.worker, { type: 'ferry-events-live', on: false });
  });

  it('forgets a worker that disconnected', () => {
    const gone = fakeWorker();
    relayWorkerEvent(gone.worker, { type: 'ferry-events-live', on: true });
    (gone.worker as unknown as { isConnected: () => boolean }).isConnected = () => false;
    relayWorkerEvent(gone.worker, event('"x"'));
    assert.equal(gone.sent.length, 1, 'only the ring');
  });
});

describe('EventFeed.reset (a worker that starts streaming)', () => {
  it('replays from the primary’s ring, and says gap for what the ring no longer holds', () => {
    const feed = new EventFeed('pending', 4);
    feed.reset('epochA', 12, [
      { seq: 10, kind: 'file-op', data: '{"n":10}' },
      { seq: 11, kind: 'file-op', data: '{"n":11}' },
      { seq: 12, kind: 'file-op', data: '{"n":12}' },
    ]);
    const got: string[] = [];
    feed.subscribe((m) => got.push(m), 'epochA-10')();
    assert.deepEqual(got, [
      'id: epochA-11\nevent: file-op\ndata: {"n":11}\n\n',
      'id: epochA-12\nevent: file-op\ndata: {"n":12}\n\n',
    ]);
    const older: string[] = [];
    feed.subscribe((m) => older.push(m), 'epochA-5')();
    assert.match(older[0]!, /^event: gap\n/);
    // Live events continue the numbering the ring had.
    const live: string[] = [];
    feed.subscribe((m) => live.push(m));
    feed.publish('epochA', 13, 'file-op', '{"n":13}');
    assert.deepEqual(live, ['id: epochA-13\nevent: file-op\ndata: {"n":13}\n\n']);
  });

  it('tells when its last reader left', () => {
    let empty = 0;
    const feed = new EventFeed('e', 4, () => empty++);
    const first = feed.subscribe(() => {});
    const second = feed.subscribe(() => {});
    first();
    assert.equal(empty, 0);
    second();
    second();
    assert.equal(empty, 1, 'once, and not again for a second unsubscribe');
  });
});
