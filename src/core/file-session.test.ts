// File operations through a session: permissions, rename semantics, attributes, limits, hashing, copying, events.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { VIRTUAL_ID_BASE } from './file-session.js';
import {
  download,
  listNames,
  makeSessionFixture,
  READ,
  READ_WRITE,
  type SessionFixture,
  UPLOAD,
  upload,
} from './session-fixture.js';

function code(expected: FerryError['code']) {
  return (err: unknown) => err instanceof FerryError && err.code === expected;
}

/** Every path under `root` with its size/kind, to prove a denied operation changed nothing. */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    const st = await stat(full);
    out.push(`${full.slice(root.length)} ${entry.isDirectory() ? 'dir' : st.size} ${st.mode} ${st.mtimeMs}`);
  }
  return out.sort();
}

describe('file session', () => {
  let fx: SessionFixture;
  beforeEach(async () => {
    fx = await makeSessionFixture();
  });
  afterEach(() => fx.cleanup());

  describe('rename', () => {
    it('refuses to replace an existing target unless asked to', async () => {
      const session = fx.open();
      await upload(session, '/a', Buffer.from('A'));
      await upload(session, '/b', Buffer.from('B'));
      await assert.rejects(session.rename('/a', '/b', { overwrite: false }), code('ERR_ALREADY_EXISTS'));
      assert.equal((await download(session, '/a')).toString(), 'A');
      assert.equal((await download(session, '/b')).toString(), 'B');
      await session.rename('/a', '/b', { overwrite: true });
      assert.equal((await download(session, '/b')).toString(), 'A');
      await assert.rejects(session.stat('/a'), code('ERR_NOT_FOUND'));
      await session.rename('b', '/x/../c', { overwrite: false });
      const renames = fx.fileOps().filter((e) => e.operation === 'rename');
      assert.deepEqual(
        renames.map((e) => [e.path, e.target, e.ok, e.detail?.['overwrite']]),
        [
          ['/a', '/b', false, false],
          ['/a', '/b', true, true],
          ['/b', '/c', true, false],
        ],
      );
      assert.deepEqual((await listNames(session, '/')).sort(), ['.', '..', 'c']);
      assert.equal((await stat(join(fx.homeDir, 'c'))).nlink, 1, 'link+unlink leaves one name');
      await assert.rejects(session.rename('/missing', '/d', { overwrite: true }), code('ERR_NOT_FOUND'));
    });

    it('moves directories, never over an existing one without overwrite', async () => {
      const session = fx.open();
      await session.mkdir('/d1');
      await upload(session, '/d1/f', Buffer.from('x'));
      await session.mkdir('/d2');
      await assert.rejects(session.rename('/d1', '/d2', { overwrite: false }), code('ERR_ALREADY_EXISTS'));
      await session.rename('/d1', '/d3', { overwrite: false });
      assert.equal((await download(session, '/d3/f')).toString(), 'x');
      await assert.rejects(session.rename('/', '/x', { overwrite: true }), code('ERR_PERMISSION_DENIED'));
    });

    it('refuses to move a directory that carries its own permissions', async () => {
      const session = fx.open({ '/': ['*'], '/locked': ['list'] });
      await session.mkdir('/locked');
      await assert.rejects(
        session.rename('/locked', '/free', { overwrite: false }),
        code('ERR_PERMISSION_DENIED'),
      );
      assert.ok((await stat(join(fx.homeDir, 'locked'))).isDirectory());
    });
  });

  describe('permissions', () => {
    it('moving or copying content never grants more than its folder allowed', async () => {
      const admin = fx.open();
      await admin.mkdir('/vault');
      await admin.mkdir('/vault/sub');
      await admin.mkdir('/public');
      await upload(admin, '/vault/f', Buffer.from('secret'));
      await upload(admin, '/vault/sub/g', Buffer.from('secret too'));
      const user = fx.open({ '/': ['*'], '/vault': ['list', 'upload', 'rename_files', 'rename_dirs'] });
      const denied = code('ERR_PERMISSION_DENIED');
      await assert.rejects(user.rename('/vault/f', '/public/f', { overwrite: false }), denied);
      await assert.rejects(user.rename('/vault/f', '/public/f', { overwrite: true }), denied);
      await assert.rejects(user.rename('/vault/sub', '/public/sub', { overwrite: false }), denied);
      await assert.rejects(user.hardlink('/vault/f', '/public/h'), denied);
      assert.deepEqual((await listNames(admin, '/public')).sort(), ['.', '..']);
      // Within the folder, or into one that grants no more, renames work.
      await user.rename('/vault/f', '/vault/f2', { overwrite: false });
      assert.equal((await download(admin, '/vault/f2')).toString(), 'secret');
    });

    it('keeps no setuid, setgid or sticky bit, and applies client modes only with chmod', async () => {
      const withChmod = fx.open();
      await withChmod.mkdir('/open');
      await withChmod.mkdir('/plain');
      const h = await withChmod.openFile('/open/suid', UPLOAD, { mode: 0o6755 });
      await h.close();
      assert.equal((await stat(join(fx.homeDir, 'open', 'suid'))).mode & 0o7777, 0o755);
      await withChmod.setstat('/open/suid', { mode: 0o4777 });
      assert.equal((await stat(join(fx.homeDir, 'open', 'suid'))).mode & 0o7777, 0o777);
      await withChmod.mkdir('/open/d', { mode: 0o1777 });
      assert.equal((await stat(join(fx.homeDir, 'open', 'd'))).mode & 0o7000, 0);
      const noChmod = fx.open({ '/': ['*'], '/plain': ['list', 'upload', 'download', 'create_dirs'] });
      const h2 = await noChmod.openFile('/plain/f', UPLOAD, { mode: 0o777 });
      await h2.close();
      const mode = (await stat(join(fx.homeDir, 'plain', 'f'))).mode & 0o7777;
      assert.equal(mode & 0o111, 0, `mode ${mode.toString(8)} came from the client without chmod`);
    });

    it('denied operations change nothing and are audited', async () => {
      const admin = fx.open();
      await admin.mkdir('/dir');
      await admin.mkdir('/empty');
      await upload(admin, '/dir/f', Buffer.from('content'));
      const before = await snapshot(fx.homeDir);
      const readOnly = fx.open({ '/': ['list', 'download'] });
      const denied = code('ERR_PERMISSION_DENIED');
      await assert.rejects(readOnly.remove('/dir/f'), denied);
      await assert.rejects(readOnly.rmdir('/empty'), denied);
      await assert.rejects(readOnly.mkdir('/new'), denied);
      await assert.rejects(readOnly.rename('/dir/f', '/g', { overwrite: false }), denied);
      await assert.rejects(readOnly.setstat('/dir/f', { mode: 0o600 }), denied);
      await assert.rejects(readOnly.setstat('/dir/f', { mtime: 1 }), denied);
      await assert.rejects(readOnly.setstat('/dir/f', { size: 0 }), denied);
      await assert.rejects(readOnly.setstat('/dir/f', { atime: 1, mode: 0o600 }), denied);
      await assert.rejects(readOnly.symlink('/dir/f', '/l'), denied);
      await assert.rejects(readOnly.hardlink('/dir/f', '/h'), denied);
      await assert.rejects(readOnly.openFile('/dir/f', UPLOAD), denied);
      await assert.rejects(readOnly.openFile('/dir/f', READ_WRITE), denied);
      await assert.rejects(readOnly.openFile('/new-file', UPLOAD), denied);
      const handle = await readOnly.openFile('/dir/f', READ);
      await assert.rejects(handle.write(0, Buffer.from('x')), denied);
      await assert.rejects(handle.setstat({ size: 0 }), denied);
      await assert.rejects(handle.setstat({ mode: 0o600 }), denied);
      await handle.close();
      assert.deepEqual(await snapshot(fx.homeDir), before);
      const deniedOps = fx.fileOps().filter((e) => !e.ok);
      assert.deepEqual(
        deniedOps.map((e) => e.operation),
        [
          'delete',
          'rmdir',
          'mkdir',
          'rename',
          'setstat',
          'setstat',
          'setstat',
          'setstat',
          'symlink',
          'hardlink',
          'setstat',
          'setstat',
        ],
      );
      assert.ok(deniedOps.every((e) => e.error === 'permission denied' && e.username === 'alice'));
    });

    it('applies the deepest directory of the map', async () => {
      await mkdir(join(fx.homeDir, 'in'), { recursive: true });
      await mkdir(join(fx.homeDir, 'out'));
      await writeFile(join(fx.homeDir, 'out', 'r.csv'), 'report');
      const session = fx.open({ '/': ['list', 'download'], '/in': ['list', 'upload'] });
      await upload(session, '/in/drop.csv', Buffer.from('data'));
      await assert.rejects(session.openFile('/in/drop.csv', READ), code('ERR_PERMISSION_DENIED'));
      await assert.rejects(
        session.openFile('/in/drop.csv', UPLOAD),
        code('ERR_PERMISSION_DENIED'),
        'no overwrite',
      );
      assert.equal((await download(session, '/out/r.csv')).toString(), 'report');
      await assert.rejects(session.openFile('/out/new', UPLOAD), code('ERR_PERMISSION_DENIED'));
      assert.equal((await session.stat('/in/drop.csv')).size, 4);
      const noList = fx.open({ '/': ['download'] });
      await assert.rejects(noList.stat('/out/r.csv'), code('ERR_PERMISSION_DENIED'));
      await assert.rejects(noList.openDir('/out'), code('ERR_PERMISSION_DENIED'));
      assert.equal((await download(noList, '/out/r.csv')).toString(), 'report');
    });

    it('does not let a symlink lend rights to a restricted directory', async () => {
      await mkdir(join(fx.homeDir, 'ro'), { recursive: true });
      await writeFile(join(fx.homeDir, 'ro', 'f'), 'keep');
      await symlink('ro', join(fx.homeDir, 'rw-view'));
      const session = fx.open({ '/': ['*'], '/ro': ['list', 'download'] });
      await assert.rejects(session.openFile('/rw-view/f', UPLOAD), code('ERR_PERMISSION_DENIED'));
      await assert.rejects(session.remove('/rw-view/f'), code('ERR_PERMISSION_DENIED'));
      await assert.rejects(session.hardlink('/ro/f', '/writable-alias'), code('ERR_PERMISSION_DENIED'));
      assert.equal((await download(session, '/rw-view/f')).toString(), 'keep');
      assert.equal(await readFile(join(fx.homeDir, 'ro', 'f'), 'utf8'), 'keep');
    });
  });

  describe('attributes', () => {
    it('changes mode, times and size; ignores ownership', async () => {
      const session = fx.open();
      await upload(session, '/f', Buffer.from('0123456789'));
      await session.setstat('/f', { size: 4 });
      // One request with size and times: the truncate must not bump the mtime just set.
      await session.setstat('/f', {
        size: 4,
        mode: 0o100600,
        atime: 1_000_000,
        mtime: 2_000_000,
        uid: 4242,
        gid: 4242,
      });
      const st = await session.stat('/f');
      assert.equal(st.mode & 0o7777, 0o600);
      assert.equal(st.kind, 'file');
      assert.equal(st.size, 4);
      assert.equal(st.owner, 'alice', 'files the server owns are shown as the user');
      assert.equal(st.uid, VIRTUAL_ID_BASE + 7, 'with the virtual ids, not the server account');
      const disk = await stat(join(fx.homeDir, 'f'));
      assert.equal(disk.mode & 0o7777, 0o600);
      assert.equal(Math.floor(disk.mtimeMs / 1000), 2_000_000);
      await session.setstat('/f', { mtime: 3_000_000 });
      assert.equal((await session.stat('/f')).atime, 1_000_000, 'a lone mtime keeps atime');
      const ops = fx.fileOps().filter((e) => e.operation === 'setstat');
      assert.equal(ops.length, 3);
      assert.ok(ops.every((e) => e.ok));
    });

    it('sets attributes through a handle as `put -p` does', async () => {
      const session = fx.open();
      const handle = await session.openFile('/p', UPLOAD);
      await handle.write(0, Buffer.from('abc'));
      await handle.setstat({ mode: 0o640, atime: 5_000, mtime: 6_000 });
      assert.equal((await handle.stat()).size, 3);
      await handle.close();
      const st = await session.stat('/p');
      assert.equal(st.mode & 0o777, 0o640);
      assert.equal(st.mtime, 6_000);
    });

    it('reports filesystem statistics', async () => {
      const s = await fx.open().statvfs('/');
      assert.ok(s.bsize > 0 && s.frsize > 0 && s.blocks > 0 && s.namemax === 255);
    });
  });

  describe('directories', () => {
    it('lists in batches, dot entries first, and removes only empty ones', async () => {
      const session = fx.open();
      await session.mkdir('/big');
      await mkdir(join(fx.homeDir, 'big'), { recursive: true });
      for (let i = 0; i < 1200; i++) await writeFile(join(fx.homeDir, 'big', `f${i}`), '');
      const dir = await session.openDir('/big');
      const first = await dir.read();
      assert.deepEqual(
        first?.slice(0, 2).map((e) => e.name),
        ['.', '..'],
      );
      assert.ok((first?.length ?? 0) < 1202, 'the first batch is not the whole directory');
      let total = first?.length ?? 0;
      for (let batch = await dir.read(); batch !== null; batch = await dir.read()) total += batch.length;
      assert.equal(total, 1202);
      assert.equal(await dir.read(), null);
      await dir.close();
      await assert.rejects(session.rmdir('/big'), code('ERR_DIRECTORY_NOT_EMPTY'));
      await assert.rejects(session.rmdir('/'), code('ERR_PERMISSION_DENIED'));
      await assert.rejects(session.remove('/big'), code('ERR_IS_A_DIRECTORY'));
      await session.mkdir('/gone', { mode: 0o700 });
      assert.equal((await stat(join(fx.homeDir, 'gone'))).mode & 0o777, 0o700);
      await session.rmdir('/gone');
      await assert.rejects(stat(join(fx.homeDir, 'gone')), /ENOENT/);
      await assert.rejects(session.mkdir('/big'), code('ERR_ALREADY_EXISTS'));
      await assert.rejects(session.openDir('/big/f1'), code('ERR_NOT_A_DIRECTORY'));
      await assert.rejects(session.openFile('/big', READ), code('ERR_IS_A_DIRECTORY'));
    });
  });

  describe('handles', () => {
    it('limits open handles per session', async () => {
      const limited = await makeSessionFixture({ limits: { maxOpenHandles: 2 } });
      try {
        const session = limited.open();
        await upload(session, '/f', Buffer.from('x'));
        const a = await session.openFile('/f', READ);
        const d = await session.openDir('/');
        await assert.rejects(session.openFile('/f', READ), code('ERR_LIMIT'));
        await assert.rejects(session.openDir('/'), code('ERR_LIMIT'));
        await a.close();
        const b = await session.openFile('/f', READ);
        await b.close();
        await d.close();
      } finally {
        await limited.cleanup();
      }
    });

    it('hashes ranges without reading the file into memory', async () => {
      const session = fx.open();
      const data = randomBytes(700_000);
      await upload(session, '/h', data);
      const handle = await session.openFile('/h', READ);
      const whole = await handle.hash('sha256', 0, 0);
      assert.ok(whole.equals(createHash('sha256').update(data).digest()));
      const part = await handle.hash('md5', 1000, 300_000);
      assert.ok(part.equals(createHash('md5').update(data.subarray(1000, 301_000)).digest()));
      await handle.close();
      const noDownload = fx.open({ '/': ['list', 'overwrite'] });
      const writeOnly = await noDownload.openFile('/h', { ...UPLOAD, truncate: false, create: false });
      await assert.rejects(writeOnly.hash('sha256', 0, 0), code('ERR_PERMISSION_DENIED'));
      await writeOnly.close();
    });

    it('copies data between handles and within one file', async () => {
      const session = fx.open();
      const data = randomBytes(600_000);
      await upload(session, '/src', data);
      const source = await session.openFile('/src', READ);
      const target = await session.openFile('/dst', UPLOAD);
      await session.copyData(source, 0, 0, target, 0);
      await target.close();
      assert.ok((await readFile(join(fx.homeDir, 'dst'))).equals(data));
      assert.equal(fx.transfers().at(-1)?.sha256, createHash('sha256').update(data).digest('hex'));

      const same = await session.openFile('/src', READ_WRITE);
      await session.copyData(same, 0, 1000, same, 600_000);
      await assert.rejects(session.copyData(same, 0, 1000, same, 500), code('ERR_INVALID_ARGUMENT'));
      await assert.rejects(session.copyData(source, 0, 0, source, 700_000), code('ERR_PERMISSION_DENIED'));
      await same.close();
      await source.close();
      const after = await readFile(join(fx.homeDir, 'src'));
      assert.equal(after.length, 601_000);
      assert.ok(after.subarray(600_000).equals(data.subarray(0, 1000)));
      const copies = fx.fileOps().filter((e) => e.operation === 'copy');
      assert.deepEqual(
        copies.map((e) => [e.ok, e.detail?.['bytes']]),
        [
          [true, 600_000],
          [true, 1000],
          [false, 0],
          [false, 0],
        ],
      );
    });

    it('closing the session closes its handles and ends the session', async () => {
      const session = fx.open();
      await upload(session, '/r', Buffer.from('abc'));
      const reader = await session.openFile('/r', READ);
      await reader.read(0, 3);
      const dir = await session.openDir('/');
      await session.close();
      await assert.rejects(reader.read(0, 1), code('ERR_INVALID_ARGUMENT'));
      await assert.rejects(dir.read(), code('ERR_INVALID_ARGUMENT'));
      await assert.rejects(session.stat('/r'), code('ERR_IO'));
      const last = fx.transfers().at(-1);
      assert.equal(last?.direction, 'download');
      assert.equal(last?.completed, false);
      assert.equal(last?.bytes, 3);
    });
  });
});
