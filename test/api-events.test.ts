// GET /api/events in one process: roles, Last-Event-ID resume, the per-caller stream limit, a reader that never
// reads (cut with a notice, not buffered), and no secrets on the wire.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { STREAM_LIMITS } from '../src/api/routes/events.js';
import type { FerryEvent } from '../src/events/types.js';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { openSse, parseSse, type SseClient } from './helpers/sse.js';

let api: ApiTestServer;
const clients: SseClient[] = [];

before(async () => {
  api = await startApiTestServer();
  await api.server.addUser('alice', { password: 'alice-password-1' });
});

after(async () => {
  for (const client of clients) client.close();
  await api?.close();
});

async function stream(key: string | undefined, lastEventId?: string): Promise<SseClient> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const client = await openSse(`${api.base}/api/events`, headers);
  clients.push(client);
  return client;
}

/** A file operation as the core emits it, with a long path (2 kB messages: the socket's buffers fill after fewer). */
function fileOp(n: number): FerryEvent {
  return {
    type: 'file-op',
    at: new Date(),
    sessionId: 'test-session',
    username: 'alice',
    protocol: 'sftp',
    operation: 'mkdir',
    path: `/d-${n}-${'x'.repeat(2000)}`,
    ok: true,
  };
}

const ofPath = (prefix: string) => (m: { data: string }) => m.data.includes(`"path":"${prefix}`);

describe('GET /api/events in one process', () => {
  test('every role may read it, nobody else; the first line names the answering process', async () => {
    assertProblem(await api.call('GET', '/api/events'), 401, 'ERR_UNAUTHENTICATED');
    assertProblem(await api.call('GET', '/api/events', { key: 'ferry_notakey' }), 401, 'ERR_UNAUTHENTICATED');
    for (const role of ['admin', 'operator', 'auditor'] as const) {
      const client = await stream(api.keys[role]);
      assert.equal(client.status, 200, role);
      await client.until((m) => m.length > 0);
      assert.equal(client.messages[0]?.comment, `ferry events, process ${process.pid}`);
      client.close();
    }
  });

  test('a reader that reconnects with Last-Event-ID gets exactly what it missed; an unknown id gets a gap notice', async () => {
    const bus = api.server.running.context.events;
    const first = await stream(api.keys.auditor);
    for (let i = 0; i < 3; i++) bus.emit(fileOp(i));
    await first.until((m) => m.filter(ofPath('/d-')).length === 3);
    first.close();
    const seen = first.messages.filter(ofPath('/d-'));
    const ids = seen.map((m) => m.id);
    assert.equal(new Set(ids).size, 3);
    for (const id of ids) assert.match(id ?? '', /^[A-Za-z0-9]+-\d+$/);
    for (let i = 3; i < 6; i++) bus.emit(fileOp(i));
    await bus.drainQueued(5000);

    const resumed = await stream(api.keys.auditor, ids[2]);
    await resumed.until((m) => m.filter(ofPath('/d-')).length >= 3);
    const missed = resumed.messages.filter((m) => m.event !== undefined);
    assert.deepEqual(
      missed.map((m) => JSON.parse(m.data).path.slice(0, 5)),
      ['/d-3-', '/d-4-', '/d-5-'],
      'exactly the three missed, in order, nothing before them',
    );
    const numbers = missed.map((m) => Number(m.id?.split('-')[1]));
    assert.deepEqual(numbers, [numbers[0], numbers[0]! + 1, numbers[0]! + 2]);
    resumed.close();

    for (const stale of ['zzz-1', 'garbage', `${ids[0]!.split('-')[0]}-99999999`]) {
      const told = await stream(api.keys.auditor, stale);
      await told.until((m) => m.some((x) => x.event === 'gap'));
      assert.match(JSON.parse(told.messages.find((x) => x.event === 'gap')!.data).reason, /Last-Event-ID/);
      told.close();
    }
  });

  test(`one caller may hold ${STREAM_LIMITS.perCaller} streams; the next is refused until one closes`, async () => {
    const held: SseClient[] = [];
    for (let i = 0; i < STREAM_LIMITS.perCaller; i++) {
      const client = await stream(api.keys.operator);
      assert.equal(client.status, 200);
      await client.until((m) => m.length > 0);
      held.push(client);
    }
    // Headers first, then the body only if refused (a stream let through would never end).
    const controller = new AbortController();
    const refused = await fetch(`${api.base}/api/events`, {
      headers: { authorization: `Bearer ${api.keys.operator}` },
      signal: controller.signal,
    });
    if (refused.status !== 429) controller.abort();
    assert.equal(refused.status, 429);
    assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const body = (await refused.json()) as { code: string; detail: string };
    assert.equal(body.code, 'ERR_LIMIT');
    assert.match(body.detail, /too many open event streams for this caller/);
    // Another caller is not affected.
    const other = await stream(api.keys.admin);
    assert.equal(other.status, 200);
    other.close();
    held[0]!.close();
    await held[0]!.ended;
    // The server notices the close on its next turn: ask until the slot is free.
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      const again = await stream(api.keys.operator);
      status = again.status;
      again.close();
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 200);
    for (const client of held) client.close();
  });

  test('a reader that never reads is cut with an overflow notice while thousands of events flow', async () => {
    const bus = api.server.running.context.events;
    const socket = connect(api.server.running.httpPort!, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(
      `GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${api.keys.auditor}\r\nAccept: text/event-stream\r\n\r\n`,
    );
    socket.pause();
    const total = 8_000;
    for (let i = 0; i < total; i++) {
      bus.emit(fileOp(1_000_000 + i));
      // Let the feed and the socket work between batches, as a live server would.
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    await bus.drainQueued(20_000);
    // Now read everything the server wrote: it must end with the notice, and the server must have ended it.
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.resume();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => socket.once('end', resolve).once('close', resolve)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the server kept the stream open')), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    socket.destroy();
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    // Chunked transfer encoding: drop the chunk-size lines.
    const unchunked = body.replace(/\r\n[0-9a-f]+\r\n/g, '').replace(/^[0-9a-f]+\r\n/, '');
    const messages = unchunked
      .split('\n\n')
      .filter((b) => b.length > 0)
      .map(parseSse);
    const events = messages.filter((m) => m.event === 'file-op');
    const last = messages.filter((m) => m.event !== undefined).at(-1);
    assert.equal(last?.event, 'overflow', 'the stream ends with the overflow notice');
    const notice = JSON.parse(last!.data);
    assert.ok(notice.dropped > 0);
    assert.equal(notice.lastEventId, events.at(-1)?.id, 'the notice names the last event written');
    assert.ok(events.length > 0 && events.length < total, `${events.length} of ${total} events were written`);
    // It may resume: too far behind for the ring, it is told of the gap and goes on live.
    const resumed = await stream(api.keys.auditor, notice.lastEventId);
    await resumed.until((m) => m.some((x) => x.event === 'gap'));
    resumed.close();
  });

  test('no secret reaches the stream: a password change is streamed without the password', async () => {
    const client = await stream(api.keys.auditor);
    await client.until((m) => m.length > 0);
    const set = await api.call('PATCH', '/api/users/alice', {
      key: api.keys.operator,
      body: { password: 'a-brand-new-secret-pw-77' },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    // A detail field named like a secret is replaced even if a producer ever put one there.
    api.server.running.context.events.emit({
      type: 'security',
      at: new Date(),
      sessionId: 's',
      action: 'limit',
      detail: { password: 'leaked-pw-123', apiToken: 'ferry_leaked', note: 'kept' },
    });
    await client.until((m) => m.some((x) => x.data.includes('"note":"kept"')));
    await client.until((m) => m.some((x) => x.data.includes('"action":"users.passwd"')));
    const all = client.messages.map((m) => m.data).join('\n');
    for (const secret of ['a-brand-new-secret-pw-77', 'leaked-pw-123', 'ferry_leaked', api.keys.operator])
      assert.equal(all.includes(secret), false, secret);
    client.close();
  });
});
