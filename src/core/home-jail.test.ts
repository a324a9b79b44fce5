// HomeJail.resolveEntry: the same answer as resolve(v, true), its stat, and how few lookups a new name costs.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { ForwardingFs } from '../vfs/forwarding-fs.js';
import { LocalFs, localHomeFs } from '../vfs/local/local-fs.js';
import type { FsFile, FsOpenFlags, FsStat } from '../vfs/types.js';
import { HomeJail } from './home-jail.js';
import { makeSessionFixture, UPLOAD, writeAll } from './session-fixture.js';

/** Records each metadata call the jail makes, as `op path`. */
class CountingFs extends ForwardingFs {
  readonly calls: string[] = [];
  override stat(path: string): Promise<FsStat> {
    this.calls.push(`stat ${path}`);
    return super.stat(path);
  }
  override lstat(path: string): Promise<FsStat> {
    this.calls.push(`lstat ${path}`);
    return super.lstat(path);
  }
  override realpath(path: string): Promise<string> {
    this.calls.push(`realpath ${path}`);
    return super.realpath(path);
  }
  override readlink(path: string): Promise<string> {
    this.calls.push(`readlink ${path}`);
    return super.readlink(path);
  }
  override open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    this.calls.push(`open ${path}`);
    return super.open(path, flags, mode);
  }
}

describe('HomeJail.resolveEntry', () => {
  let base: string;
  let fs: CountingFs;
  let jail: HomeJail;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'ferry-jail-'));
    const home = join(base, 'home');
    await mkdir(join(home, 'in', 'deep'), { recursive: true });
    await writeFile(join(home, 'in', 'a.txt'), 'hello');
    await symlink('deep/target.txt', join(home, 'in', 'dangling'));
    await writeFile(join(home, 'in', 'deep', 'b.txt'), 'twelve bytes');
    await symlink('deep/b.txt', join(home, 'in', 'link'));
    await symlink('loop2', join(home, 'in', 'loop1'));
    await symlink('loop1', join(home, 'in', 'loop2'));
    await writeFile(join(base, 'outside.txt'), 'secret');
    await symlink(join(base, 'outside.txt'), join(home, 'in', 'escape'));
    // Unrooted, as the path fuzzer uses it: the jail itself must keep paths inside the home.
    fs = new CountingFs(new LocalFs());
    jail = new HomeJail(fs, home);
    await jail.ready();
  });
  after(() => rm(base, { recursive: true, force: true }));

  const resolveBoth = async (v: string) => {
    fs.calls.length = 0;
    const entry = await jail.resolveEntry(v);
    const calls = [...fs.calls];
    assert.equal(entry.real, await jail.resolve(v, true), `${v}: same real path as resolve`);
    return { ...entry, calls };
  };

  it('a name not there yet: its folder realpath-ed, one lstat, no realpath of the name and no stat', async () => {
    const { real, stat, calls } = await resolveBoth('/in/new.txt');
    assert.equal(real, `${jail.realHome}/in/new.txt`);
    assert.equal(stat, undefined);
    assert.deepEqual(calls, [`realpath ${jail.realHome}/in`, `lstat ${jail.realHome}/in/new.txt`]);
  });

  it('an existing file: the same two lookups, and its stat comes with them', async () => {
    const { stat, calls } = await resolveBoth('/in/a.txt');
    assert.equal(stat?.kind, 'file');
    assert.equal(stat?.size, 5);
    assert.equal(calls.length, 2);
  });

  it('a symlink: followed to what it names, with that file stat', async () => {
    const { real, stat } = await resolveBoth('/in/link');
    assert.equal(real, `${jail.realHome}/in/deep/b.txt`);
    assert.equal(stat?.kind, 'file');
    assert.equal(stat?.size, 12);
  });

  it('a dangling symlink: where it points, nothing there', async () => {
    const { real, stat } = await resolveBoth('/in/dangling');
    assert.equal(real, `${jail.realHome}/in/deep/target.txt`);
    assert.equal(stat, undefined);
  });

  it('the home itself and a folder are stat-ed as directories', async () => {
    assert.equal((await resolveBoth('/')).stat?.kind, 'directory');
    assert.equal((await resolveBoth('/in/deep')).stat?.kind, 'directory');
  });

  it('a missing folder on the way: the name is missing too', async () => {
    const { real, stat } = await resolveBoth('/no/such/dir/file');
    assert.equal(real, `${jail.realHome}/no/such/dir/file`);
    assert.equal(stat, undefined);
  });

  it('refuses a link that leaves the home, and a loop, like resolve', async () => {
    await assert.rejects(jail.resolveEntry('/in/escape'), (err: unknown) => {
      return err instanceof FerryError && err.code === 'ERR_PERMISSION_DENIED';
    });
    await assert.rejects(jail.resolveEntry('/in/loop1'), /Too many levels of symbolic links/);
  });
});

describe("an upload's open", () => {
  it('a put of a new name: two lookups, then the partial opened (no stat, no look for an old partial)', async () => {
    let counting: CountingFs | undefined;
    const fx = await makeSessionFixture({
      fs: (identity) => {
        counting = new CountingFs(localHomeFs(identity));
        return counting;
      },
    });
    try {
      const session = fx.open();
      await session.mkdir('/in');
      counting!.calls.length = 0;
      const handle = await session.openFile('/in/new.bin', UPLOAD);
      assert.deepEqual(counting!.calls, [
        'realpath /in',
        'lstat /in/new.bin',
        'open /in/.ferry-part.new.bin',
      ]);
      await writeAll(handle, Buffer.from('first half'));
      await handle.abort?.();
    } finally {
      await fx.cleanup();
    }
  });
});
