// Virtual folders in a session's view: mounts listed as directories, their own permissions and quota, copy+delete
// moves between them, and each folder confined to its own root (symlinks, '..', renames racing with reads).
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import type { PermissionMap } from '../permission-vocabulary.js';
import { LocalFs, localHomeFs } from '../vfs/local/local-fs.js';
import { MountFs } from '../vfs/mount-fs.js';
import type { Fs } from '../vfs/types.js';
import { QuotaFs } from './quota-fs.js';
import {
  download,
  listNames,
  makeSessionFixture,
  type SessionFixture,
  UPLOAD,
  upload,
  writeAll,
} from './session-fixture.js';
import { partialPathFor } from './virtual-path.js';

function code(expected: FerryError['code']) {
  return (err: unknown) => err instanceof FerryError && err.code === expected;
}

const PERMISSIONS: PermissionMap = {
  '/': ['*'],
  '/reports': ['list', 'download'],
  '/drop': ['*'],
  '/a/b/shared': ['*'],
};
const HOME_SECRET = 'home secret, never in a folder';
const REPORT = 'quarterly figures';

describe('virtual folders', () => {
  let fx: SessionFixture;
  let roots: { reports: string; drop: string; shared: string };
  let moves: string[];
  /** The drop folder's usage as its quota counts it (limit 64 bytes, 3 files). */
  let dropUsage: { bytes: number; files: number };

  beforeEach(async () => {
    moves = [];
    dropUsage = { bytes: 0, files: 0 };
    fx = await makeSessionFixture({
      permissions: PERMISSIONS,
      fs: (identity): Fs => {
        const drop = new QuotaFs(
          new LocalFs({ root: roots.drop, createRoot: true }),
          {
            change: async (bytes, files) => {
              if ((bytes > 0 && dropUsage.bytes + bytes > 64) || (files > 0 && dropUsage.files + files > 3))
                return false;
              dropUsage = { bytes: dropUsage.bytes + bytes, files: dropUsage.files + files };
              return true;
            },
          },
          'folder drop may store 64 bytes and 3 files',
        );
        return new MountFs(
          localHomeFs(identity),
          [
            { path: '/reports', fs: new LocalFs({ root: roots.reports, createRoot: true }) },
            { path: '/drop', fs: drop },
            { path: '/a/b/shared', fs: new LocalFs({ root: roots.shared, createRoot: true }) },
          ],
          { partialOf: (p) => partialPathFor(p), onCopyMove: (from, to) => moves.push(`${from} -> ${to}`) },
        );
      },
    });
    roots = {
      reports: join(fx.base, 'folders', 'reports'),
      drop: join(fx.base, 'folders', 'drop'),
      shared: join(fx.base, 'folders', 'shared'),
    };
    for (const dir of Object.values(roots)) await mkdir(dir, { recursive: true });
    await mkdir(fx.homeDir, { recursive: true });
    await writeFile(join(fx.homeDir, 'secret.txt'), HOME_SECRET);
    await writeFile(join(roots.reports, 'q3.csv'), REPORT);
  });
  afterEach(() => fx.cleanup());

  it('lists a mount as a directory of its parent, hides what the home has under that name, and reads the folder', async () => {
    await mkdir(join(fx.homeDir, 'reports'));
    await writeFile(join(fx.homeDir, 'reports', 'shadowed.txt'), 'the home copy');
    const session = fx.open();
    assert.deepEqual((await listNames(session, '/')).sort(), [
      '.',
      '..',
      'a',
      'drop',
      'reports',
      'secret.txt',
    ]);
    assert.equal((await session.stat('/reports')).kind, 'directory');
    assert.equal((await session.stat('/a')).kind, 'directory', 'a directory leading to a mount is shown');
    assert.deepEqual(await listNames(session, '/a'), ['.', '..', 'b']);
    assert.deepEqual((await listNames(session, '/reports')).sort(), ['.', '..', 'q3.csv']);
    assert.equal((await download(session, '/reports/q3.csv')).toString(), REPORT);
    await assert.rejects(session.stat('/reports/shadowed.txt'), code('ERR_NOT_FOUND'));
    await upload(session, '/a/b/shared/x.txt', Buffer.from('shared'));
    assert.equal(await readFile(join(roots.shared, 'x.txt'), 'utf8'), 'shared');
  });

  it("applies the folder's permissions: a read-only folder refuses uploads, deletes and new directories", async () => {
    const session = fx.open();
    await assert.rejects(
      upload(session, '/reports/new.csv', Buffer.from('x')),
      code('ERR_PERMISSION_DENIED'),
    );
    await assert.rejects(session.remove('/reports/q3.csv'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.mkdir('/reports/sub'), code('ERR_PERMISSION_DENIED'));
    assert.deepEqual(await readdir(roots.reports), ['q3.csv']);
  });

  it('a mount point cannot be removed, renamed or replaced, nor a directory leading to one', async () => {
    const session = fx.open();
    await session.mkdir('/elsewhere');
    await assert.rejects(session.rmdir('/drop'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(
      session.rename('/drop', '/dropped', { overwrite: false }),
      code('ERR_PERMISSION_DENIED'),
    );
    await assert.rejects(
      session.rename('/elsewhere', '/drop', { overwrite: true }),
      code('ERR_PERMISSION_DENIED'),
    );
    await assert.rejects(session.rename('/a', '/z', { overwrite: false }), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.rmdir('/a'), code('ERR_PERMISSION_DENIED'));
    assert.ok((await stat(roots.drop)).isDirectory());
  });

  it("counts a folder's quota on its own: the folder refuses what passes its limit while the home takes it", async () => {
    const session = fx.open();
    await upload(session, '/drop/small.bin', Buffer.alloc(40));
    const big = await session.openFile('/drop/big.bin', UPLOAD);
    await assert.rejects(writeAll(big, Buffer.alloc(40)), code('ERR_QUOTA_EXCEEDED'));
    await assert.rejects(big.close(), code('ERR_QUOTA_EXCEEDED'));
    assert.deepEqual((await readdir(roots.drop)).sort(), ['small.bin'], 'no partial left behind');
    await upload(session, '/big.bin', Buffer.alloc(4000));
    assert.equal(dropUsage.bytes, 40);
  });

  it('moves a file between the home and a folder by copy and delete, and says so; directories are refused', async () => {
    const session = fx.open();
    await upload(session, '/move-me.txt', Buffer.from('moving'));
    await session.rename('/move-me.txt', '/drop/moved.txt', { overwrite: false });
    assert.equal(await readFile(join(roots.drop, 'moved.txt'), 'utf8'), 'moving');
    await assert.rejects(stat(join(fx.homeDir, 'move-me.txt')), /ENOENT/);
    assert.deepEqual(moves, ['/move-me.txt -> /drop/moved.txt']);
    assert.deepEqual(dropUsage, { bytes: 6, files: 1 }, "the copy counts against the folder's quota");
    // Back, and never over an existing file when asked not to replace.
    await upload(session, '/taken.txt', Buffer.from('keep me'));
    await assert.rejects(
      session.rename('/drop/moved.txt', '/taken.txt', { overwrite: false }),
      code('ERR_ALREADY_EXISTS'),
    );
    assert.equal(await readFile(join(fx.homeDir, 'taken.txt'), 'utf8'), 'keep me');
    assert.equal(await readFile(join(roots.drop, 'moved.txt'), 'utf8'), 'moving');
    await session.rename('/drop/moved.txt', '/back.txt', { overwrite: false });
    assert.deepEqual(dropUsage, { bytes: 0, files: 0 }, 'the deleted source gives its quota back');
    assert.deepEqual((await readdir(roots.drop)).sort(), [], 'no copy left in the folder');
    await session.mkdir('/dir');
    await assert.rejects(session.rename('/dir', '/drop/dir', { overwrite: false }), code('ERR_UNSUPPORTED'));
    await assert.rejects(session.hardlink('/back.txt', '/drop/link.txt'), code('ERR_UNSUPPORTED'));
    // A move the folder's quota cannot take fails whole: the source stays, no partial is left.
    await upload(session, '/huge.bin', Buffer.alloc(100));
    await assert.rejects(
      session.rename('/huge.bin', '/drop/huge.bin', { overwrite: false }),
      code('ERR_QUOTA_EXCEEDED'),
    );
    assert.equal((await stat(join(fx.homeDir, 'huge.bin'))).size, 100);
    assert.deepEqual(await readdir(roots.drop), []);
  });

  it("keeps a folder's symlinks inside the folder: '/', '..' and absolute paths never reach the home or another folder", async () => {
    await writeFile(join(roots.drop, 'mine.txt'), 'drop file');
    await symlink('/', join(roots.drop, 'root'));
    await symlink('../../..', join(roots.drop, 'up'));
    await symlink(fx.homeDir, join(roots.drop, 'home-abs'));
    await symlink('/secret.txt', join(roots.drop, 'secret-link'));
    await symlink('../reports/q3.csv', join(roots.drop, 'sibling'));
    await symlink(join(roots.reports, 'q3.csv'), join(roots.drop, 'sibling-abs'));
    const session = fx.open();
    assert.equal(
      (await download(session, '/drop/root/mine.txt')).toString(),
      'drop file',
      "'/' is the folder's root",
    );
    assert.equal((await download(session, '/drop/up/mine.txt')).toString(), 'drop file', "'..' stops at it");
    for (const outward of [
      '/drop/home-abs/secret.txt',
      '/drop/secret-link',
      '/drop/sibling',
      '/drop/sibling-abs',
    ]) {
      await assert.rejects(download(session, outward), (err: unknown) => err instanceof FerryError, outward);
    }
    // Links the user makes in a folder are read there too, whatever their text.
    await session.symlink('/secret.txt', '/drop/made');
    await assert.rejects(download(session, '/drop/made'), (err: unknown) => err instanceof FerryError);
    await session.symlink('/drop/mine.txt', '/drop/inside');
    assert.equal(await session.readlink('/drop/inside'), '/drop/mine.txt');
    assert.equal((await download(session, '/drop/inside')).toString(), 'drop file');
  });

  it("keeps the home's symlinks in the home: links to a mount's path or a folder's directory reach nothing", async () => {
    await symlink('/reports/q3.csv', join(fx.homeDir, 'to-reports'));
    await symlink('reports', join(fx.homeDir, 'to-reports-dir'));
    await symlink(roots.reports, join(fx.homeDir, 'to-reports-abs'));
    await symlink('/reports/q3.csv', join(fx.homeDir, 'to-shadowed'));
    const session = fx.open();
    const attempt = (path: string) =>
      download(session, path).then(
        (b) => b.toString(),
        (err: unknown) => (err instanceof FerryError ? err.code : String(err)),
      );
    // Dangling in the home (it has no 'reports'): followed by hand, and still read inside the home.
    for (const path of ['/to-reports', '/to-reports-dir/q3.csv', '/to-shadowed']) {
      assert.equal(await attempt(path), 'ERR_PERMISSION_DENIED', path);
    }
    assert.equal(
      await attempt('/to-reports-abs/q3.csv'),
      'ERR_NOT_FOUND',
      "the folder's disk path means nothing here",
    );
    // With a home directory of that name, which the mount covers: the link resolves to it, and is refused.
    await mkdir(join(fx.homeDir, 'reports'));
    await writeFile(join(fx.homeDir, 'reports', 'q3.csv'), 'shadowed home copy');
    for (const path of ['/to-reports', '/to-reports-dir/q3.csv', '/to-shadowed']) {
      const got = await attempt(path);
      assert.notEqual(got, REPORT, path);
      assert.notEqual(got, 'shadowed home copy', `${path}: a name the mount covers stays out of reach`);
    }
    await assert.rejects(session.symlink('/reports/q3.csv', '/new-link'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(
      upload(session, '/to-reports', Buffer.from('x')),
      (err: unknown) => err instanceof FerryError,
    );
    assert.equal(await readFile(join(roots.reports, 'q3.csv'), 'utf8'), REPORT);
  });

  it('swapping a folder directory for escaping symlinks while a session reads never shows the home', async () => {
    const swapped = join(roots.drop, 'd');
    const real = join(roots.drop, 'd-real');
    await mkdir(real);
    await writeFile(join(real, 'secret.txt'), 'folder file');
    const session = fx.open();
    const until = Date.now() + 3000;
    let reads = 0;
    let leaks = 0;
    const attacker = (async () => {
      const links = [fx.homeDir, '../../homes/alice', '/', '..'];
      for (let i = 0; Date.now() < until; i++) {
        await rm(swapped, { recursive: false, force: true }).catch(() => undefined);
        if (i % 2 === 0) await rename(real, swapped).catch(() => undefined);
        else await symlink(links[i % links.length]!, swapped).catch(() => undefined);
        await new Promise((r) => setImmediate(r));
        if (i % 2 === 0) await rename(swapped, real).catch(() => undefined);
      }
    })();
    while (Date.now() < until) {
      for (const path of ['/drop/d/secret.txt', '/drop/d/../secret.txt']) {
        try {
          const got = (await download(session, path)).toString();
          reads++;
          if (got === HOME_SECRET) leaks++;
        } catch (err) {
          assert.ok(err instanceof FerryError, String(err));
        }
      }
      try {
        await upload(session, '/drop/d/written.txt', Buffer.from('w'));
      } catch (err) {
        assert.ok(err instanceof FerryError, String(err));
      }
    }
    await attacker;
    assert.equal(leaks, 0, `${reads} reads, none of them the home's file`);
    assert.deepEqual((await readdir(fx.homeDir)).sort(), ['secret.txt'], 'nothing written into the home');
  });
});
