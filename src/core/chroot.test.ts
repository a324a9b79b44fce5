// A user never reaches outside their home: hostile paths stay inside, symlinks out are refused, links inside work.
import assert from 'node:assert/strict';
import { mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { VIRTUAL_ID_BASE } from './file-session.js';
import {
  download,
  listNames,
  makeSessionFixture,
  READ,
  type SessionFixture,
  UPLOAD,
  upload,
} from './session-fixture.js';

function code(expected: FerryError['code']) {
  return (err: unknown) => err instanceof FerryError && err.code === expected;
}

describe('chroot', () => {
  let fx: SessionFixture;
  beforeEach(async () => {
    fx = await makeSessionFixture();
    await mkdir(fx.homeDir, { recursive: true });
    await writeFile(join(fx.base, 'secret.txt'), 'top secret');
    await mkdir(join(fx.base, 'outside'));
    await writeFile(join(fx.base, 'outside', 'f'), 'outside file');
  });
  afterEach(() => fx.cleanup());

  it('creates a missing home with mode 0700 on first use', async () => {
    const other = await makeSessionFixture();
    try {
      const session = other.open();
      assert.equal(await session.realpath('.'), '/');
      const st = await stat(other.homeDir);
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o777, 0o700);
    } finally {
      await other.cleanup();
    }
  });

  it('keeps hostile relative and absolute paths inside the home', async () => {
    const session = fx.open();
    for (const hostile of ['../secret.txt', '../../secret.txt', '/../secret.txt', '~/../secret.txt']) {
      await assert.rejects(session.stat(hostile), code('ERR_NOT_FOUND'), hostile);
      assert.equal(await session.realpath(hostile), '/secret.txt');
    }
    await upload(session, '../../../evil.txt', Buffer.from('x'));
    assert.equal(await readFile(join(fx.homeDir, 'evil.txt'), 'utf8'), 'x');
    await assert.rejects(stat(join(fx.base, 'evil.txt')), /ENOENT/);
    assert.equal((await session.stat('/..')).kind, 'directory');
    assert.deepEqual((await listNames(session, '/../..')).sort(), ['.', '..', 'evil.txt']);
  });

  it("shows the user's virtual ids on their files, never the server account's", async () => {
    const session = fx.open();
    await upload(session, '/mine.txt', Buffer.from('x'));
    const st = await session.stat('/mine.txt');
    assert.equal(st.uid, VIRTUAL_ID_BASE + 7);
    assert.equal(st.gid, VIRTUAL_ID_BASE + 7);
    assert.equal(st.owner, 'alice');
    assert.notEqual(st.uid, process.getuid?.());
  });

  it('rejects NUL bytes and overlong names', async () => {
    const session = fx.open();
    await assert.rejects(session.stat('/a\0/../secret'), code('ERR_INVALID_PATH'));
    await assert.rejects(session.openFile(`/${'n'.repeat(300)}`, UPLOAD), code('ERR_INVALID_PATH'));
    await assert.rejects(session.mkdir('/d'.repeat(3000)), code('ERR_INVALID_PATH'));
    await assert.rejects(session.symlink('/x\0', '/l'), code('ERR_INVALID_PATH'));
  });

  it('reads the text of a symlink that points out of the home inside the home, as chroot would', async () => {
    await symlink(join(fx.base, 'outside'), join(fx.homeDir, 'out'));
    await symlink('../../secret.txt', join(fx.homeDir, 'rel-out'));
    await symlink(join(fx.base, 'not-yet'), join(fx.homeDir, 'dangling-out'));
    const session = fx.open();
    await assert.rejects(session.stat('/out'), code('ERR_NOT_FOUND'));
    await assert.rejects(session.stat('/out/f'), code('ERR_NOT_FOUND'));
    await assert.rejects(session.openFile('/out/f', READ), code('ERR_NOT_FOUND'));
    await assert.rejects(session.openDir('/out'), code('ERR_NOT_FOUND'));
    await assert.rejects(session.openFile('/rel-out', READ), code('ERR_NOT_FOUND'));
    await assert.rejects(session.openFile('/out/new', UPLOAD), code('ERR_NOT_FOUND'));
    await assert.rejects(session.mkdir('/out/d'), code('ERR_NOT_FOUND'));
    await assert.rejects(session.setstat('/out/f', { mode: 0o777 }), code('ERR_NOT_FOUND'));
    await assert.rejects(session.hardlink('/out/f', '/stolen'), code('ERR_NOT_FOUND'));
    await assert.rejects(stat(join(fx.base, 'not-yet')), /ENOENT/, 'nothing created through the link');
    await assert.rejects(stat(join(fx.base, 'outside', 'new')), /ENOENT/);
    await assert.rejects(stat(join(fx.base, 'outside', 'd')), /ENOENT/);
    assert.equal((await stat(join(fx.base, 'outside', 'f'))).mode & 0o777, 0o644);
    // '..' stops at the home: the relative link names the home's own secret.txt once there is one.
    await upload(session, '/secret.txt', Buffer.from('mine'));
    assert.equal((await download(session, '/rel-out')).toString(), 'mine');
    assert.equal(await readFile(join(fx.base, 'secret.txt'), 'utf8'), 'top secret');
    // The link itself is the user's: it can be seen and removed, which leaves the target alone.
    assert.equal((await session.lstat('/out')).kind, 'symlink');
    assert.equal(await session.readlink('/rel-out'), '../../secret.txt');
    await session.remove('/out');
    assert.equal(await readFile(join(fx.base, 'outside', 'f'), 'utf8'), 'outside file');
  });

  it('keeps a chain of links inside the home through a missing hop, and stops loops', async () => {
    await symlink('hop2', join(fx.homeDir, 'hop1'));
    await symlink('../../secret-new', join(fx.homeDir, 'hop2'));
    await symlink('loop-b', join(fx.homeDir, 'loop-a'));
    await symlink('loop-a', join(fx.homeDir, 'loop-b'));
    const session = fx.open();
    await upload(session, '/hop1', Buffer.from('through the chain'));
    await assert.rejects(stat(join(fx.base, 'secret-new')), /ENOENT/);
    assert.equal(await readFile(join(fx.homeDir, 'secret-new'), 'utf8'), 'through the chain');
    await assert.rejects(session.openFile('/loop-a', UPLOAD), code('ERR_INVALID_PATH'));
  });

  it('follows symlinks that stay inside the home', async () => {
    await mkdir(join(fx.homeDir, 'data'));
    await writeFile(join(fx.homeDir, 'data', 'f.txt'), 'inside');
    await symlink('data', join(fx.homeDir, 'rel-in'));
    await symlink('/data/f.txt', join(fx.homeDir, 'abs-in'));
    const session = fx.open();
    assert.equal((await download(session, '/rel-in/f.txt')).toString(), 'inside');
    assert.equal((await download(session, '/abs-in')).toString(), 'inside');
    assert.equal(await session.realpath('/rel-in/f.txt'), '/data/f.txt');
    assert.equal(await session.readlink('/abs-in'), '/data/f.txt');
    assert.equal(await session.readlink('/rel-in'), 'data');
    assert.deepEqual((await listNames(session, '/rel-in')).sort(), ['.', '..', 'f.txt']);
  });

  it('stores link text verbatim and reads it inside the home wherever the link is moved', async () => {
    const session = fx.open();
    await session.mkdir('/a');
    await session.mkdir('/a/b');
    await upload(session, '/a/f.txt', Buffer.from('content'));
    await session.symlink('/a/f.txt', '/abs');
    await session.symlink('f.txt', '/a/rel');
    await session.symlink('../a/f.txt', '/a/up');
    await session.symlink('../../etc/passwd', '/a/b/climb');
    assert.equal(await readlink(join(fx.homeDir, 'abs')), '/a/f.txt');
    assert.equal(await readFile(join(fx.homeDir, 'a', 'rel'), 'utf8'), 'content');
    assert.equal(await session.readlink('/abs'), '/a/f.txt');
    assert.equal(await session.readlink('/a/rel'), 'f.txt');
    assert.equal((await download(session, '/a/up')).toString(), 'content');
    assert.equal((await download(session, '/abs')).toString(), 'content');
    // A link whose text climbs to the home's root, moved shallower, still ends at the home's root.
    await assert.rejects(session.openFile('/a/b/climb', READ), code('ERR_NOT_FOUND'));
    await session.rename('/a/b/climb', '/climb', { overwrite: false });
    await assert.rejects(session.openFile('/climb', READ), code('ERR_NOT_FOUND'));
    await assert.rejects(session.stat('/climb'), code('ERR_NOT_FOUND'));
    assert.equal(await session.readlink('/climb'), '../../etc/passwd');
    // Partial uploads are named by no link.
    await assert.rejects(session.symlink('.ferry-part.x', '/p'), code('ERR_PERMISSION_DENIED'));
    await session.symlink('/../../a/f.txt', '/clamped');
    assert.equal((await download(session, '/clamped')).toString(), 'content');
  });
});
