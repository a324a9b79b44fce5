// An upload the storage could not write fails loudly and leaves nothing that looks complete; the audit trail gates uploads.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AuditWriter } from '../audit/writer.js';
import { FerryError } from '../errors.js';
import { EventBus } from '../events/bus.js';
import type { FerryEvent, TransferEvent } from '../events/types.js';
import { HealthState } from '../health.js';
import { rootLogger } from '../logger.js';
import type { AuditRepository } from '../store/types.js';
import { localHomeFs } from '../vfs/local/local-fs.js';
import type { Fs, FsFile } from '../vfs/types.js';
import { createFileSessionFactory } from './file-session.js';
import type { FileSessionDeps } from './file-session-deps.js';
import { READ, READ_WRITE, UPLOAD, upload, writeAll } from './session-fixture.js';
import type { FileSession } from './types.js';
import { AuditGatedFs, UploadAdmission } from './upload-admission.js';

const silent = rootLogger.child({ logger: 'storage-failure-test' }, { level: 'silent' });

function code(expected: FerryError['code'], message?: string) {
  return (err: unknown) =>
    err instanceof FerryError && err.code === expected && (message === undefined || err.message === message);
}

function errnoError(errno: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${errno}: simulated, write`), { code: errno });
}

/** The storage misbehaving on purpose: writes at or past `failFrom` (and closes, when asked) fail with `errno`. */
class FlakyStorage {
  failFrom = Number.POSITIVE_INFINITY;
  failClose = false;
  errno = 'EIO';
  writesAttempted = 0;

  wrap(fs: Fs): Fs {
    const open: Fs['open'] = async (path, flags, mode) => {
      const file = await fs.open(path, flags, mode);
      return flags.write ? this.#wrapFile(file) : file;
    };
    // A Proxy keeps this test double independent of the Fs interface's other methods.
    return new Proxy(fs, {
      get: (target, prop) => {
        if (prop === 'open') return open;
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  #wrapFile(file: FsFile): FsFile {
    const write: FsFile['write'] = async (position, data) => {
      this.writesAttempted++;
      if (position >= this.failFrom) throw errnoError(this.errno);
      return file.write(position, data);
    };
    const close: FsFile['close'] = async () => {
      await file.close();
      if (this.failClose) throw errnoError(this.errno);
    };
    return new Proxy(file, {
      get: (target, prop) => {
        if (prop === 'write') return write;
        if (prop === 'close') return close;
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

interface Harness {
  homeDir: string;
  storage: FlakyStorage;
  events: FerryEvent[];
  bus: EventBus;
  health: HealthState;
  open(): FileSession;
  transfers(): TransferEvent[];
}

async function harness(
  options: { uploadMode?: FileSessionDeps['uploadMode']; gate?: boolean } = {},
): Promise<Harness & { cleanup(): Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), 'ferry-storage-'));
  const homeDir = join(base, 'homes', 'alice');
  const storage = new FlakyStorage();
  const health = new HealthState(silent);
  const events: FerryEvent[] = [];
  const bus = new EventBus(silent);
  bus.subscribe((event) => events.push(event));
  const admission = new UploadAdmission(health);
  const factory = createFileSessionFactory({
    events: bus,
    logger: silent,
    fs: (identity) => {
      const flaky = storage.wrap(localHomeFs(identity));
      return options.gate ? new AuditGatedFs(flaky, admission) : flaky;
    },
    ...(options.uploadMode ? { uploadMode: options.uploadMode } : {}),
  });
  const sessions: FileSession[] = [];
  let n = 0;
  return {
    homeDir,
    storage,
    events,
    bus,
    health,
    open() {
      const session = factory({
        sessionId: `session-${++n}`,
        username: 'alice',
        homeDir,
        permissions: { '/': ['*'] },
        remoteAddress: '192.0.2.7',
        protocol: 'sftp',
      });
      sessions.push(session);
      return session;
    },
    transfers: () => events.filter((e): e is TransferEvent => e.type === 'transfer'),
    async cleanup() {
      await Promise.all(sessions.map((s) => s.close()));
      await rm(base, { recursive: true, force: true });
    },
  };
}

describe('an upload the storage cannot write', () => {
  let h: Awaited<ReturnType<typeof harness>>;
  afterEach(() => h.cleanup());

  it('fails that write and every later one, is never published, and leaves no partial', async () => {
    h = await harness();
    h.storage.failFrom = 64 * 1024;
    const session = h.open();
    const data = randomBytes(256 * 1024);
    const handle = await session.openFile('/big.bin', UPLOAD);
    await writeAll(handle, data.subarray(0, 64 * 1024));
    await assert.rejects(
      handle.write(64 * 1024, data.subarray(64 * 1024)),
      code('ERR_IO', 'Input/output error'),
    );
    const attempted = h.storage.writesAttempted;
    await assert.rejects(handle.write(0, data.subarray(0, 1024)), code('ERR_IO', 'Input/output error'));
    assert.equal(h.storage.writesAttempted, attempted, 'a later write fails without touching the storage');
    await assert.rejects(handle.close(), code('ERR_IO', 'Input/output error'));
    assert.deepEqual(await readdir(h.homeDir), [], 'neither the final name nor the partial exists');
    const event = h.transfers().at(-1);
    assert.equal(event?.completed, false);
    assert.equal(event?.sha256, undefined);
    assert.equal(event?.error, 'Input/output error', 'the transfer event says why');

    // The session and the storage stay usable for everything else.
    h.storage.failFrom = Number.POSITIVE_INFINITY;
    await upload(h.open(), '/small.txt', Buffer.from('fine'));
    assert.equal(await readFile(join(h.homeDir, 'small.txt'), 'utf8'), 'fine');
  });

  it('reports a full disk as such, also when only close notices', async () => {
    h = await harness();
    h.storage.errno = 'ENOSPC';
    h.storage.failClose = true;
    const handle = await h.open().openFile('/late.bin', UPLOAD);
    await handle.write(0, Buffer.from('accepted by the page cache'));
    await assert.rejects(handle.close(), code('ERR_NO_SPACE', 'No space left on device'));
    assert.deepEqual(await readdir(h.homeDir), []);
  });

  it('does not replace the file it was meant to replace', async () => {
    h = await harness();
    const session = h.open();
    await upload(session, '/keep.txt', Buffer.from('the good old version'));
    h.storage.failFrom = 0;
    h.storage.errno = 'EDQUOT';
    const handle = await session.openFile('/keep.txt', UPLOAD);
    await assert.rejects(handle.write(0, Buffer.from('new')), code('ERR_NO_SPACE', 'Disk quota exceeded'));
    await assert.rejects(handle.close(), code('ERR_NO_SPACE'));
    assert.equal(await readFile(join(h.homeDir, 'keep.txt'), 'utf8'), 'the good old version');
    assert.deepEqual(await readdir(h.homeDir), ['keep.txt']);
  });

  it('leaves no partial to resume from when the session ends instead of closing', async () => {
    h = await harness();
    h.storage.failFrom = 10;
    const session = h.open();
    const handle = await session.openFile('/dropped.bin', UPLOAD);
    await handle.write(0, Buffer.from('0123456789'));
    await assert.rejects(handle.write(10, Buffer.from('more')));
    await session.close();
    assert.deepEqual(
      await readdir(h.homeDir),
      [],
      'a partial with a failed range could be resumed into a corrupt file',
    );
  });

  it('in direct mode, removes the file it created rather than leave it looking complete', async () => {
    h = await harness({ uploadMode: 'direct' });
    h.storage.failFrom = 5;
    const handle = await h.open().openFile('/direct.bin', UPLOAD);
    await handle.write(0, Buffer.from('12345'));
    assert.equal(
      await readFile(join(h.homeDir, 'direct.bin'), 'utf8'),
      '12345',
      'direct mode writes in place',
    );
    await assert.rejects(handle.write(5, Buffer.from('67890')), code('ERR_IO'));
    await assert.rejects(handle.close(), code('ERR_IO'));
    await assert.rejects(stat(join(h.homeDir, 'direct.bin')), /ENOENT/);
  });

  it('in direct mode, leaves a pre-existing file written in place (it cannot be restored) but fails the close', async () => {
    h = await harness({ uploadMode: 'direct' });
    const session = h.open();
    await upload(session, '/db.bin', Buffer.from('0123456789'));
    h.storage.failFrom = 5;
    const handle = await session.openFile('/db.bin', READ_WRITE);
    await handle.write(0, Buffer.from('ab'));
    await assert.rejects(handle.write(5, Buffer.from('xy')), code('ERR_IO'));
    await assert.rejects(handle.close(), code('ERR_IO'));
    assert.equal(await readFile(join(h.homeDir, 'db.bin'), 'utf8'), 'ab23456789');
    assert.equal(h.transfers().at(-1)?.completed, false);
  });
});

/** An audit store that cannot write, as the SQLite driver reports a full disk. */
function failingAuditStore(state: { failing: boolean }): AuditRepository {
  let seq = 0;
  const refuse = () =>
    Promise.reject(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }));
  return {
    append: (build) => {
      if (state.failing) return refuse();
      const records = build(undefined).map((r) => ({ ...r, seq: ++seq }));
      return Promise.resolve(records);
    },
    page: refuse,
    tail: refuse,
    latest: refuse,
    seqRange: refuse,
    prune: refuse,
  };
}

describe('uploads while the audit store cannot write', () => {
  let h: Awaited<ReturnType<typeof harness>>;
  let writer: AuditWriter;
  const store = { failing: false };
  beforeEach(async () => {
    h = await harness({ gate: true });
    store.failing = false;
    writer = new AuditWriter({
      repository: failingAuditStore(store),
      log: silent,
      flushDelayMs: 1,
      checkpointEveryMs: 0,
      health: h.health,
    });
    h.bus.subscribe(writer.listener);
  });
  afterEach(async () => {
    store.failing = false;
    await writer.close();
    await h.cleanup();
  });

  it('are not reported done when their audit record could not be committed, and new ones are refused', async () => {
    const session = h.open();
    const handle = await session.openFile('/report.csv', UPLOAD);
    await handle.write(0, Buffer.from('a,b\n'));
    store.failing = true;
    await assert.rejects(handle.close(), code('ERR_AUDIT_UNAVAILABLE'));
    const report = h.health.report();
    assert.equal(report.status, 'degraded');
    assert.match(report.reason ?? '', /audit store cannot write: database or disk is full/);

    await assert.rejects(session.openFile('/next.csv', UPLOAD), code('ERR_AUDIT_UNAVAILABLE'));
    await assert.rejects(
      stat(join(h.homeDir, '.ferry-part.next.csv')),
      /ENOENT/,
      'refused before anything is created',
    );
    const read = await session.openFile('/report.csv', READ);
    await read.close();
  });

  it('are kept as a partial, unpublished, when the store fails before close, and resume once it recovers', async () => {
    const session = h.open();
    const handle = await session.openFile('/in.bin', UPLOAD);
    await handle.write(0, Buffer.from('first half '));
    h.health.degrade('audit', 'audit store cannot write: disk I/O error');
    await assert.rejects(handle.close(), code('ERR_AUDIT_UNAVAILABLE'));
    await assert.rejects(stat(join(h.homeDir, 'in.bin')), /ENOENT/, 'not published without its record');
    assert.equal(await readFile(join(h.homeDir, '.ferry-part.in.bin'), 'utf8'), 'first half ');

    h.health.recover('audit');
    const resumed = await session.openFile('/in.bin', { ...UPLOAD, truncate: false, append: true });
    await resumed.write(0, Buffer.from('second half'));
    await resumed.close();
    assert.equal(await readFile(join(h.homeDir, 'in.bin'), 'utf8'), 'first half second half');
    assert.equal(h.health.report().status, 'healthy');
  });

  it('refuse overwrites and in-place writes at open, leaving the existing file untouched', async () => {
    const session = h.open();
    await upload(session, '/keep.txt', Buffer.from('kept'));
    h.health.degrade('audit', 'audit store cannot write: read-only database');
    await assert.rejects(session.openFile('/keep.txt', UPLOAD), code('ERR_AUDIT_UNAVAILABLE'));
    await assert.rejects(session.openFile('/keep.txt', READ_WRITE), code('ERR_AUDIT_UNAVAILABLE'));
    assert.equal(await readFile(join(h.homeDir, 'keep.txt'), 'utf8'), 'kept');
  });

  it('recover with the store: the health turns back to healthy on the next committed record', async () => {
    store.failing = true;
    await assert.rejects(writer.append({ action: 'upload', result: 'ok' }));
    assert.equal(h.health.isHealthy('audit'), false);
    store.failing = false;
    await writer.append({ action: 'upload', result: 'ok' });
    assert.equal(h.health.isHealthy('audit'), true);
    assert.equal(h.health.get('audit').failures, 1);
  });
});
