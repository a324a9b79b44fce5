// The primary's relay: workers send events only while someone reads and receive them only while they stream; a
// worker that starts gets the ring first, once every worker sends; a worker's feed rebuilt from that ring replays a
// Last-Event-ID as one that saw every event would.
import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { describe, it } from 'node:test';
import { EventFeed } from './event-feed.js';
import { EventRelayPrimary } from './event-relay-primary.js';

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
const LIVE_ON = { type: 'ferry-events-live', on: true };
const LIVE_OFF = { type: 'ferry-events-live', on: false };
const ACK = { type: 'ferry-events-wanted-ack' };
const types = (sent: readonly Sent[]) =>
  sent.map((m) => (m.type === 'ferry-events-wanted' ? `wanted:${(m as { on?: boolean }).on}` : m.type));

function relay(...workers: Worker[]): EventRelayPrimary {
  return new EventRelayPrimary({ workers: () => workers, ackWaitMs: 60_000 });
}

describe('EventRelayPrimary', () => {
  it('while nobody reads, tells each worker once to stop sending and relays nothing', () => {
    const a = fakeWorker();
    const b = fakeWorker();
    const primary = relay(a.worker, b.worker);
    assert.equal(primary.handle(a.worker, { type: 'something-else' }), false);
    assert.equal(primary.handle(a.worker, event('"one"')), true);
    primary.handle(a.worker, event('"two"'));
    assert.deepEqual(types(a.sent), ['wanted:false'], 'told once; no event relayed');
    assert.deepEqual(types(b.sent), []);
  });

  it('a first reader: every worker is asked to send, the ring comes only after all acknowledged, then live events', () => {
    const a = fakeWorker();
    const b = fakeWorker();
    const primary = relay(a.worker, b.worker);
    primary.handle(a.worker, event('"before"'));
    primary.handle(b.worker, LIVE_ON);
    assert.deepEqual(types(a.sent), ['wanted:false', 'wanted:true']);
    assert.deepEqual(types(b.sent), ['wanted:true'], 'no ring yet: a has not acknowledged');
    primary.handle(b.worker, ACK);
    assert.deepEqual(types(b.sent), ['wanted:true']);
    // a acknowledges; its events after that come after the ring b is handed.
    primary.handle(a.worker, ACK);
    assert.deepEqual(types(b.sent), ['wanted:true', 'ferry-events-ring']);
    const ring = b.sent[1]!;
    const before = ring.entries?.find((e) => e.data === '"before"');
    assert.ok(before, 'the ring holds what came before');
    assert.equal(ring.last, before.seq + 1, 'one number skipped where the quiet time began');
    primary.handle(a.worker, event('"after"'));
    assert.deepEqual(types(a.sent), ['wanted:false', 'wanted:true'], 'a has no readers: it gets nothing');
    assert.equal(b.sent.at(-1)?.type, 'ferry-event-relayed');
    assert.equal(b.sent.at(-1)?.data, '"after"');
    assert.equal(b.sent.at(-1)?.seq, before.seq + 2);

    // A second reader's worker while b streams: its ring at once, with the same numbers b saw.
    primary.handle(a.worker, LIVE_ON);
    const aRing = a.sent.at(-1)!;
    assert.equal(aRing.type, 'ferry-events-ring');
    assert.deepEqual(
      aRing.entries?.slice(-2).map((e) => [e.seq, e.data]),
      [
        [before.seq, '"before"'],
        [before.seq + 2, '"after"'],
      ],
    );

    // b's readers left: b gets no more, a does; when a's leave too, both are told to stop.
    primary.handle(b.worker, LIVE_OFF);
    primary.handle(b.worker, event('"three"'));
    assert.equal(b.sent.at(-1)?.type, 'ferry-event-relayed');
    assert.equal(b.sent.at(-1)?.data, '"after"');
    assert.equal(a.sent.at(-1)?.data, '"three"');
    primary.handle(a.worker, LIVE_OFF);
    assert.equal(types(a.sent).at(-1), 'wanted:false');
    assert.equal(types(b.sent).at(-1), 'wanted:false');
  });

  it('hands the ring out after the wait when a worker never acknowledges, and forgets disconnected workers', async () => {
    const a = fakeWorker();
    const stuck = fakeWorker();
    const primary = new EventRelayPrimary({ workers: () => [a.worker, stuck.worker], ackWaitMs: 20 });
    primary.handle(a.worker, LIVE_ON);
    primary.handle(a.worker, ACK);
    assert.deepEqual(types(a.sent), ['wanted:true']);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(types(a.sent), ['wanted:true', 'ferry-events-ring']);
    (a.worker as unknown as { isConnected: () => boolean }).isConnected = () => false;
    primary.handle(stuck.worker, event('"x"'));
    assert.equal(a.sent.length, 2, 'nothing sent to a worker that is gone');
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
