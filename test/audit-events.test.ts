// Events become audit records field by field, and an upload's close waits for its record to be committed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { entryFromEvent, toAuditFields } from '../src/audit/entries.js';
import { AuditWriter } from '../src/audit/writer.js';
import { createFileSessionFactory } from '../src/core/file-session.js';
import { EventBus } from '../src/events/bus.js';
import type { FerryEvent } from '../src/events/types.js';
import { rootLogger } from '../src/logger.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { localHomeFs } from '../src/vfs/local/local-fs.js';

const log = rootLogger.child({ logger: 'audit-test' }, { level: 'silent' });
const at = new Date('2026-03-01T10:00:00.000Z');
const base = { at, sessionId: 's1', username: 'bob', remoteAddress: '192.0.2.1' } as const;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-audit-events-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const fieldsOf = (event: FerryEvent) => {
  const { at: time, ...rest } = toAuditFields(entryFromEvent(event)!);
  return { ...rest, at: time, detail: JSON.parse(rest.detail) };
};

test('session events: connect with the negotiated algorithms, auth outcomes, disconnect totals', () => {
  const connect = fieldsOf({
    ...base,
    username: undefined,
    type: 'session',
    phase: 'connect',
    detail: {
      client: 'OpenSSH_9.6',
      remotePort: 5000,
      kex: 'curve25519-sha256',
      cipher: 'aes128-gcm@openssh.com',
      mac: 'implicit',
    },
  });
  assert.deepEqual(connect, {
    at: at.toISOString(),
    action: 'connect',
    user: null,
    sessionId: 's1',
    address: '192.0.2.1',
    protocol: 'ssh',
    path: null,
    target: null,
    result: 'ok',
    reason: null,
    detail: {
      client: 'OpenSSH_9.6',
      remotePort: 5000,
      kex: 'curve25519-sha256',
      cipher: 'aes128-gcm@openssh.com',
      mac: 'implicit',
    },
  });
  const auth = (result: string) =>
    fieldsOf({ ...base, type: 'session', phase: 'auth', detail: { method: 'password', result } });
  assert.deepEqual(
    [auth('accepted').result, auth('accepted').reason, auth('accepted').detail],
    ['ok', null, { method: 'password' }],
  );
  assert.deepEqual([auth('partial').result, auth('partial').reason], ['partial', null]);
  assert.deepEqual(
    [auth('wrong-password').result, auth('wrong-password').reason],
    ['failed', 'wrong-password'],
  );
  const bye = fieldsOf({
    ...base,
    type: 'session',
    phase: 'disconnect',
    detail: { durationMs: 10, bytesIn: 1, bytesOut: 2 },
  });
  assert.deepEqual(
    [bye.action, bye.user, bye.detail],
    ['disconnect', 'bob', { durationMs: 10, bytesIn: 1, bytesOut: 2 }],
  );
});

test('FTPS and web sessions are recorded under their own protocol, not as SSH', () => {
  const auth = (detail: Record<string, unknown>) =>
    fieldsOf({
      ...base,
      type: 'session',
      phase: 'auth',
      detail: { method: 'password', result: 'accepted', ...detail },
    }).protocol;
  assert.equal(auth({ protocol: 'ftps' }), 'ftps');
  assert.equal(auth({ protocol: 'https' }), 'https');
  assert.equal(auth({}), 'ssh');
  // Only known names: a detail that carries something else is an SSH session's.
  assert.equal(auth({ protocol: 'gopher' }), 'ssh');
  const connect = fieldsOf({
    ...base,
    type: 'session',
    phase: 'connect',
    detail: { protocol: 'ftps', implicit: true },
  });
  assert.equal(connect.protocol, 'ftps');
  const ban = fieldsOf({
    ...base,
    type: 'security',
    action: 'ban',
    detail: { protocol: 'https', score: 100 },
  });
  assert.equal(ban.protocol, 'https');
});

test('transfer events: upload and download with size, hash, duration, resume offset and completion', () => {
  const up = fieldsOf({
    ...base,
    type: 'transfer',
    direction: 'upload',
    protocol: 'sftp',
    path: '/in/a.bin',
    bytes: 10,
    durationMs: 5,
    sha256: 'ff'.repeat(32),
    resumedFrom: 4,
    completed: false,
  });
  assert.deepEqual(
    [up.action, up.protocol, up.path, up.result],
    ['upload', 'sftp', '/in/a.bin', 'interrupted'],
  );
  assert.deepEqual(up.detail, { bytes: 10, durationMs: 5, sha256: 'ff'.repeat(32), resumedFrom: 4 });
  const down = fieldsOf({
    ...base,
    type: 'transfer',
    direction: 'download',
    protocol: 'scp',
    path: '/a',
    bytes: 3,
    durationMs: 1,
    resumedFrom: 0,
    completed: true,
  });
  assert.deepEqual(
    [down.action, down.result, down.detail],
    ['download', 'ok', { bytes: 3, durationMs: 1, resumedFrom: 0 }],
  );
});

test('file operations: rename from/to, hardlink as link, setstat changes, denied and failed with reasons', () => {
  const op = (operation: 'rename' | 'hardlink' | 'setstat' | 'delete', extra: object) =>
    fieldsOf({ ...base, type: 'file-op', protocol: 'sftp', operation, path: '/a', ok: true, ...extra });
  assert.deepEqual(
    (({ action, path, target, result }) => ({ action, path, target, result }))(
      op('rename', { target: '/b' }),
    ),
    { action: 'rename', path: '/a', target: '/b', result: 'ok' },
  );
  assert.equal(op('hardlink', { target: '/b' }).action, 'link');
  assert.deepEqual(op('setstat', { detail: { mode: 0o600, mtime: 5 } }).detail, { mode: 0o600, mtime: 5 });
  // Denial is read from the stable code, never from the message text.
  const denied = op('delete', { ok: false, error: 'permission denied', errorCode: 'ERR_PERMISSION_DENIED' });
  assert.deepEqual([denied.result, denied.reason], ['denied', 'permission denied']);
  const failed = op('delete', { ok: false, error: 'No such file', errorCode: 'ERR_NOT_FOUND' });
  assert.deepEqual([failed.result, failed.reason], ['failed', 'No such file']);
});

test('emit() waits for listeners that return promises, never rejects, and keeps plain listeners synchronous', async () => {
  const errors: unknown[] = [];
  const bus = new EventBus({ error: (o: unknown) => errors.push(o) } as never);
  const seen: string[] = [];
  bus.subscribe((e) => seen.push(`sync:${e.type}`));
  bus.subscribe(async () => {
    await new Promise((r) => setTimeout(r, 20));
    seen.push('slow done');
  });
  bus.subscribe(() => Promise.reject(new Error('listener broke')));
  bus.subscribe(() => {
    throw new Error('sync listener broke');
  });
  const emitted = bus.emit({ ...base, type: 'session', phase: 'connect', detail: {} });
  assert.deepEqual(seen, ['sync:session'], 'synchronous listeners ran before emit returned');
  await emitted;
  assert.deepEqual(seen, ['sync:session', 'slow done']);
  assert.equal(errors.length, 2);
});

test("an upload's close resolves only after its audit record is committed; a download's close does not wait", async () => {
  const store = await openSqliteStore(join(dir, 'durable.db'));
  // A long batching delay makes the difference observable: close must sit it out.
  const writer = new AuditWriter({ repository: store.audit, log, flushDelayMs: 150, checkpointEveryMs: 0 });
  const bus = new EventBus(log);
  bus.subscribe(writer.listener);
  const homeDir = join(dir, 'home');
  await mkdir(homeDir);
  const sessions = createFileSessionFactory({ events: bus, logger: log, fs: localHomeFs });
  const session = sessions({
    sessionId: 's9',
    username: 'bob',
    homeDir,
    permissions: { '/': ['*'] },
    remoteAddress: '192.0.2.9',
    protocol: 'sftp',
  });
  try {
    const data = Buffer.from('hello audit\n');
    const handle = await session.openFile('/up.txt', {
      read: false,
      write: true,
      append: false,
      create: true,
      truncate: true,
      exclusive: false,
    });
    await handle.write(0, data);
    const started = Date.now();
    await handle.close();
    assert.ok(Date.now() - started >= 100, 'close waited for the batch');
    const [record] = await store.audit.page({ actions: ['upload'], limit: 10 });
    assert.equal(record?.path, '/up.txt');
    assert.equal(record?.result, 'ok');
    assert.equal(JSON.parse(record?.detail ?? '{}').sha256, createHash('sha256').update(data).digest('hex'));

    const reader = await session.openFile('/up.txt', {
      read: true,
      write: false,
      append: false,
      create: false,
      truncate: false,
      exclusive: false,
    });
    await reader.read(0, 100);
    const readStarted = Date.now();
    await reader.close();
    assert.ok(Date.now() - readStarted < 100, 'download close is fire-and-forget');
    await writer.flush();
    assert.equal((await store.audit.page({ actions: ['download'], limit: 10 })).length, 1);
  } finally {
    await session.close();
    await writer.close();
    await store.close();
  }
});
