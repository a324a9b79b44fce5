// A user never reaches outside their home: hostile paths stay inside, symlinks out are refused, links inside work.
import assert from 'node:assert/strict';
import { mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
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

  it('rejects NUL bytes and overlong names', async () => {
    const session = fx.open();
    await assert.rejects(session.stat('/a\0/../secret'), code('ERR_INVALID_PATH'));
    await assert.rejects(session.openFile(`/${'n'.repeat(300)}`, UPLOAD), code('ERR_INVALID_PATH'));
    await assert.rejects(session.mkdir('/d'.repeat(3000)), code('ERR_INVALID_PATH'));
    await assert.rejects(session.symlink('/x\0', '/l'), code('ERR_INVALID_PATH'));
  });

  it('refuses every use of a symlink that points out of the home', async () => {
    await symlink(join(fx.base, 'outside'), join(fx.homeDir, 'out'));
    await symlink('../../secret.txt', join(fx.homeDir, 'rel-out'));
    await symlink(join(fx.base, 'not-yet'), join(fx.homeDir, 'dangling-out'));
    const session = fx.open();
    await assert.rejects(session.stat('/out'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.stat('/out/f'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.openFile('/out/f', READ), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.openDir('/out'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.openFile('/rel-out', READ), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.realpath('/out/f'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.openFile('/out/new', UPLOAD), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.openFile('/dangling-out', UPLOAD), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.mkdir('/out/d'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.setstat('/out/f', { mode: 0o777 }), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.hardlink('/out/f', '/stolen'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.readlink('/out'), code('ERR_PERMISSION_DENIED'), 'no server layout leaks');
    await assert.rejects(stat(join(fx.base, 'not-yet')), /ENOENT/, 'nothing created through the link');
    await assert.rejects(stat(join(fx.base, 'outside', 'new')), /ENOENT/);
    await assert.rejects(stat(join(fx.base, 'outside', 'd')), /ENOENT/);
    assert.equal((await stat(join(fx.base, 'outside', 'f'))).mode & 0o777, 0o644);
    // The link itself is the user's: it can be seen and removed, which leaves the target alone.
    assert.equal((await session.lstat('/out')).kind, 'symlink');
    assert.equal(await session.readlink('/rel-out'), '../../secret.txt');
    await session.remove('/out');
    assert.equal(await readFile(join(fx.base, 'outside', 'f'), 'utf8'), 'outside file');
  });

  it('refuses a chain of links that leaves through a missing hop', async () => {
    await symlink('hop2', join(fx.homeDir, 'hop1'));
    await symlink('../../secret-new', join(fx.homeDir, 'hop2'));
    await symlink('loop-b', join(fx.homeDir, 'loop-a'));
    await symlink('loop-a', join(fx.homeDir, 'loop-b'));
    const session = fx.open();
    await assert.rejects(session.openFile('/hop1', UPLOAD), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(stat(join(fx.base, 'secret-new')), /ENOENT/);
    await assert.rejects(session.openFile('/loop-a', UPLOAD), code('ERR_INVALID_PATH'));
  });

  it('follows symlinks that stay inside the home', async () => {
    await mkdir(join(fx.homeDir, 'data'));
    await writeFile(join(fx.homeDir, 'data', 'f.txt'), 'inside');
    await symlink('data', join(fx.homeDir, 'rel-in'));
    await symlink(join(fx.homeDir, 'data', 'f.txt'), join(fx.homeDir, 'abs-in'));
    const session = fx.open();
    assert.equal((await download(session, '/rel-in/f.txt')).toString(), 'inside');
    assert.equal((await download(session, '/abs-in')).toString(), 'inside');
    assert.equal(await session.realpath('/rel-in/f.txt'), '/data/f.txt');
    assert.equal(
      await session.readlink('/abs-in'),
      '/data/f.txt',
      'absolute text is mapped to a virtual path',
    );
    assert.equal(await session.readlink('/rel-in'), 'data');
    assert.deepEqual((await listNames(session, '/rel-in')).sort(), ['.', '..', 'f.txt']);
  });

  it('creates symlinks that work on disk and read back as virtual paths', async () => {
    const session = fx.open();
    await session.mkdir('/a');
    await upload(session, '/a/f.txt', Buffer.from('content'));
    await session.symlink('/a/f.txt', '/abs');
    await session.symlink('f.txt', '/a/rel');
    await session.symlink('../a/f.txt', '/a/up');
    assert.equal(await readlink(join(fx.homeDir, 'abs')), join(fx.homeDir, 'a', 'f.txt'));
    assert.equal(await readFile(join(fx.homeDir, 'abs'), 'utf8'), 'content');
    assert.equal(await readFile(join(fx.homeDir, 'a', 'rel'), 'utf8'), 'content');
    assert.equal(await session.readlink('/abs'), '/a/f.txt');
    assert.equal(await session.readlink('/a/rel'), 'f.txt');
    assert.equal((await download(session, '/a/up')).toString(), 'content');
    await assert.rejects(session.symlink('../../etc/passwd', '/a/bad'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(session.symlink('../x', '/bad'), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(readlink(join(fx.homeDir, 'a', 'bad')), /ENOENT/);
    // An absolute virtual target is always inside: '/..' is '/'.
    await session.symlink('/../../a/f.txt', '/clamped');
    assert.equal(await session.readlink('/clamped'), '/a/f.txt');
  });
});
