// The one behaviour suite every Fs backend (local, s3, pgp decorator) must pass; backends call runFsContract from their own test file.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { FerryError, type FerryErrorCode } from '../errors.js';
import { canDo, type Fs, type FsCapabilities, type FsDirEntry } from './types.js';

export interface FsContractFixture {
  fs: Fs;
  /** An empty, existing directory on the backend the suite may use freely. */
  root: string;
  cleanup(): Promise<void>;
}

async function rejectsWith(promise: Promise<unknown>, code: FerryErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof FerryError, `expected a FerryError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

async function writeFile(fs: Fs, path: string, data: Buffer): Promise<void> {
  const file = await fs.open(path, { read: false, write: true, create: true, truncate: true });
  try {
    await file.write(0, data);
  } finally {
    await file.close();
  }
}

async function readAll(fs: Fs, path: string): Promise<Buffer> {
  const file = await fs.open(path, { read: true, write: false });
  try {
    const chunks: Buffer[] = [];
    let position = 0;
    for (;;) {
      const chunk = await file.read(position, 65536);
      if (chunk.length === 0) break;
      chunks.push(chunk);
      position += chunk.length;
    }
    return Buffer.concat(chunks);
  } finally {
    await file.close();
  }
}

async function listAll(fs: Fs, path: string): Promise<{ entries: FsDirEntry[]; batches: number }> {
  const dir = await fs.opendir(path);
  const entries: FsDirEntry[] = [];
  let batches = 0;
  try {
    for (let batch = await dir.read(); batch !== null; batch = await dir.read()) {
      assert.ok(batch.length > 0, 'a batch is never empty; the end is null');
      batches++;
      entries.push(...batch);
    }
  } finally {
    await dir.close();
  }
  return { entries, batches };
}

export function runFsContract(name: string, makeFs: () => Promise<FsContractFixture>): void {
  describe(`Fs contract: ${name}`, () => {
    let fx: FsContractFixture;
    let fs: Fs;
    let root: string;
    const p = (rel: string) => `${root}/${rel}`;
    // The suite asks the backend what it can do, as the core does: what it lacks is skipped or must be refused.
    const has = (capability: keyof FsCapabilities) => canDo(fs, capability);

    // Fixtures not yet cleaned up: a test that skips itself (t.skip) gets no afterEach on Node 20, so the
    // suite's after() removes what such tests left (their temp dirs stayed behind before).
    const open = new Set<FsContractFixture>();

    beforeEach(async () => {
      fx = await makeFs();
      open.add(fx);
      fs = fx.fs;
      root = fx.root.replace(/\/+$/, '');
    });
    afterEach(async () => {
      open.delete(fx);
      await fx.cleanup();
    });
    after(async () => {
      for (const left of open) await left.cleanup();
      open.clear();
    });

    it('refuses an out-of-order write when it writes front to back only', async (t) => {
      if (has('randomWrites')) return t.skip('backend writes anywhere');
      const file = await fs.open(p('seq.bin'), { read: true, write: true, create: true });
      await file.write(0, Buffer.from('hello '));
      await rejectsWith(file.write(20, Buffer.from('!')), 'ERR_UNSUPPORTED');
      await rejectsWith(file.write(0, Buffer.from('H')), 'ERR_UNSUPPORTED');
      await file.write(6, Buffer.from('world'));
      assert.equal((await file.read(0, 100)).toString(), 'hello world');
      await file.close();
    });

    it('writes at positions and reads back what was written', async (t) => {
      if (!has('randomWrites')) return t.skip('backend writes front to back only');
      const file = await fs.open(p('a.bin'), { read: true, write: true, create: true });
      await file.write(0, Buffer.from('hello '));
      await file.write(6, Buffer.from('world'));
      await file.write(20, Buffer.from('!'));
      assert.equal((await file.stat()).size, 21);
      assert.equal((await file.read(0, 11)).toString(), 'hello world');
      assert.deepEqual([...(await file.read(11, 9))], new Array(9).fill(0), 'a hole reads as zeros');
      assert.equal((await file.read(21, 10)).length, 0, 'read at end of file is empty');
      assert.equal((await file.read(18, 100)).length, 3, 'read near the end is short');
      await file.close();
    });

    it('writes chunk lists in order and reads into headroom, short at the end of file', async () => {
      const data = randomBytes(70_000);
      const file = await fs.open(p('chunks.bin'), { read: true, write: true, create: true });
      // Pipelined, contiguous, each a list of slices (one empty, one of 1 000 tiny chunks).
      const tiny = Array.from({ length: 1000 }, (_, i) => data.subarray(50_000 + i * 7, 50_007 + i * 7));
      await Promise.all([
        file.write(0, [data.subarray(0, 1), data.subarray(1, 30_000), data.subarray(30_000, 30_000)]),
        file.write(30_000, [data.subarray(30_000, 45_000), data.subarray(45_000, 50_000)]),
        file.write(50_000, tiny),
        file.write(57_000, data.subarray(57_000)),
      ]);
      assert.ok((await file.read(0, 70_000)).equals(data), 'chunks land in order');
      const headroom = 13;
      const framed = await file.read(60_000, 20_000, headroom);
      assert.equal(framed.length, headroom + 10_000, 'headroom + the bytes up to end of file');
      assert.ok(framed.subarray(headroom).equals(data.subarray(60_000)));
      framed.fill(0xee, 0, headroom);
      assert.ok(
        (await file.read(60_000, 10, headroom)).subarray(headroom).equals(data.subarray(60_000, 60_010)),
      );
      assert.equal(
        (await file.read(70_000, 100, headroom)).length,
        headroom,
        'at end of file: headroom only',
      );
      // Into a caller's buffer: the data lands there (a view of it comes back), reusable for the next read.
      const into = Buffer.alloc(headroom + 20_000, 0xaa);
      const first = await file.read(0, 20_000, headroom, into);
      assert.equal(first.buffer, into.buffer, 'read into the given buffer');
      assert.ok(first.subarray(headroom).equals(data.subarray(0, 20_000)));
      const second = await file.read(65_000, 20_000, headroom, into);
      assert.ok(
        second.subarray(headroom).equals(data.subarray(65_000)),
        'reused: the new data, short at EOF',
      );
      await assert.rejects(file.read(0, 20_001, headroom, into), 'a buffer too small is refused');
      await file.close();
    });

    it('round-trips a large binary file', async () => {
      const data = randomBytes(1024 * 1024 + 17);
      await writeFile(fs, p('big.bin'), data);
      assert.ok((await readAll(fs, p('big.bin'))).equals(data));
      const st = await fs.stat(p('big.bin'));
      assert.equal(st.kind, 'file');
      assert.equal(st.size, data.length);
      assert.ok(st.mtimeMs > 0);
    });

    it('honours create, exclusive and truncate', async (t) => {
      await rejectsWith(fs.open(p('missing'), { read: true, write: false }), 'ERR_NOT_FOUND');
      await writeFile(fs, p('f'), Buffer.from('0123456789'));
      await rejectsWith(
        fs.open(p('f'), { read: false, write: true, create: true, exclusive: true }),
        'ERR_ALREADY_EXISTS',
      );
      if (has('randomWrites')) {
        const keep = await fs.open(p('f'), { read: false, write: true });
        await keep.write(0, Buffer.from('ab'));
        await keep.close();
        assert.equal((await readAll(fs, p('f'))).toString(), 'ab23456789', 'no truncate writes in place');
      } else t.diagnostic('in-place writes skipped: backend writes front to back only');
      const trunc = await fs.open(p('f'), { read: false, write: true, truncate: true });
      await trunc.close();
      assert.equal((await fs.stat(p('f'))).size, 0);
    });

    it('truncates and extends through an open file', async () => {
      await writeFile(fs, p('t'), Buffer.from('0123456789'));
      const file = await fs.open(p('t'), { read: true, write: true });
      await file.truncate(4);
      assert.equal((await file.read(0, 100)).toString(), '0123');
      await file.truncate(6);
      assert.equal((await file.stat()).size, 6);
      await file.sync();
      await file.close();
    });

    it('creates and removes directories with the right errors', async () => {
      await fs.mkdir(p('d'));
      assert.equal((await fs.stat(p('d'))).kind, 'directory');
      await rejectsWith(fs.mkdir(p('d')), 'ERR_ALREADY_EXISTS');
      await fs.mkdir(p('x/y/z'), { recursive: true });
      assert.equal((await fs.stat(p('x/y/z'))).kind, 'directory');
      await writeFile(fs, p('d/f'), Buffer.from('x'));
      await rejectsWith(fs.rmdir(p('d')), 'ERR_DIRECTORY_NOT_EMPTY');
      await rejectsWith(fs.rmdir(p('d/f')), 'ERR_NOT_A_DIRECTORY');
      await fs.unlink(p('d/f'));
      await fs.rmdir(p('d'));
      await rejectsWith(fs.stat(p('d')), 'ERR_NOT_FOUND');
      await rejectsWith(fs.unlink(p('d')), 'ERR_NOT_FOUND');
      await rejectsWith(fs.mkdir(p('nope/child')), 'ERR_NOT_FOUND');
    });

    it('streams a large listing in bounded batches', async () => {
      await fs.mkdir(p('many'));
      const count = 1500;
      for (let i = 0; i < count; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, count - i) }, (_, j) =>
            writeFile(fs, p(`many/f${i + j}`), Buffer.from(String(i + j))),
          ),
        );
      }
      await fs.mkdir(p('many/sub'));
      const { entries, batches } = await listAll(fs, p('many'));
      assert.equal(entries.length, count + 1);
      assert.ok(batches > 1, 'a 1500-entry listing comes in more than one batch');
      const names = new Set(entries.map((e) => e.name));
      assert.ok(!names.has('.') && !names.has('..'));
      assert.ok(names.has('f0') && names.has(`f${count - 1}`));
      const sub = entries.find((e) => e.name === 'sub');
      assert.equal(sub?.stat.kind, 'directory');
      assert.equal(entries.find((e) => e.name === 'f42')?.stat.size, 2);
      const dir = await fs.opendir(p('many'));
      await dir.close();
      await dir.close();
    });

    it('renames, replacing an existing target', async () => {
      await writeFile(fs, p('a'), Buffer.from('A'));
      await writeFile(fs, p('b'), Buffer.from('B'));
      await fs.rename(p('a'), p('b'));
      assert.equal((await readAll(fs, p('b'))).toString(), 'A');
      await rejectsWith(fs.stat(p('a')), 'ERR_NOT_FOUND');
      await rejectsWith(fs.rename(p('a'), p('c')), 'ERR_NOT_FOUND');
    });

    it('renames without replacing, refused atomically when the target exists', async (t) => {
      if (!has('atomicNoReplace')) return t.skip('backend cannot refuse an existing target atomically');
      await writeFile(fs, p('a'), Buffer.from('A'));
      await writeFile(fs, p('b'), Buffer.from('B'));
      await rejectsWith(fs.rename(p('a'), p('b'), { noReplace: true }), 'ERR_ALREADY_EXISTS');
      assert.equal((await readAll(fs, p('b'))).toString(), 'B');
      await fs.rename(p('a'), p('c'), { noReplace: true });
      assert.equal((await readAll(fs, p('c'))).toString(), 'A');
    });

    it('hard-links without replacing', async (t) => {
      if (!has('hardLinks')) {
        await rejectsWith(fs.link(p('a'), p('c')), 'ERR_UNSUPPORTED');
        return t.skip('backend has no hard links');
      }
      await writeFile(fs, p('a'), Buffer.from('A'));
      await writeFile(fs, p('b'), Buffer.from('B'));
      await rejectsWith(fs.link(p('a'), p('b')), 'ERR_ALREADY_EXISTS');
      await fs.link(p('a'), p('c'));
      assert.equal((await readAll(fs, p('c'))).toString(), 'A');
      assert.equal((await fs.stat(p('a'))).nlink, 2);
    });

    it('stores symlinks verbatim and tells them apart with lstat', async (t) => {
      if (!has('symlinks')) {
        await rejectsWith(fs.symlink('x', p('link')), 'ERR_UNSUPPORTED');
        return t.skip('backend has no symlinks');
      }
      await fs.mkdir(p('dir'));
      await writeFile(fs, p('dir/target'), Buffer.from('T'));
      await fs.symlink('dir/target', p('rel'));
      await fs.symlink('nowhere', p('dangling'));
      assert.equal(await fs.readlink(p('rel')), 'dir/target');
      assert.equal((await fs.lstat(p('rel'))).kind, 'symlink');
      assert.equal((await fs.stat(p('rel'))).kind, 'file');
      assert.equal(await fs.realpath(p('rel')), await fs.realpath(p('dir/target')));
      await rejectsWith(fs.stat(p('dangling')), 'ERR_NOT_FOUND');
      await rejectsWith(fs.realpath(p('dangling')), 'ERR_NOT_FOUND');
      assert.equal((await fs.lstat(p('dangling'))).kind, 'symlink');
      await rejectsWith(fs.open(p('rel'), { read: true, write: false, noFollow: true }), 'ERR_INVALID_PATH');
      const { entries } = await listAll(fs, root);
      assert.equal(entries.find((e) => e.name === 'rel')?.stat.kind, 'symlink');
      await rejectsWith(fs.readlink(p('dir/target')), 'ERR_INVALID_ARGUMENT');
      await fs.utimes(p('dangling'), 1000, 2000, { followSymlinks: false });
      assert.equal(Math.floor((await fs.lstat(p('dangling'))).mtimeMs / 1000), 2000);
    });

    it('changes modes and times', async (t) => {
      await writeFile(fs, p('m'), Buffer.from('x'));
      await fs.utimes(p('m'), 1_000_000, 1_500_000);
      const st = await fs.stat(p('m'));
      assert.equal(Math.floor(st.mtimeMs / 1000), 1_500_000);
      assert.equal(Math.floor(st.atimeMs / 1000), 1_000_000);
      const file = await fs.open(p('m'), { read: false, write: true });
      await file.utimes(10, 20);
      assert.equal(Math.floor((await file.stat()).mtimeMs / 1000), 20);
      if (!has('modes')) {
        await file.close();
        return t.skip('backend has no modes');
      }
      await file.chmod(0o600);
      await file.close();
      assert.equal((await fs.stat(p('m'))).mode & 0o7777, 0o600);
      await fs.chmod(p('m'), 0o640);
      assert.equal((await fs.stat(p('m'))).mode & 0o7777, 0o640);
    });

    it('reports filesystem statistics', async (t) => {
      if (!has('statvfs')) return t.skip('backend reports no file system figures');
      const s = await fs.statfs(root);
      assert.ok(s.bsize > 0);
      assert.ok(s.blocks >= s.bfree && s.bfree >= 0);
      assert.ok(s.namemax > 0);
    });

    it('rejects only with FerryErrors', async () => {
      const attempts: (() => Promise<unknown>)[] = [
        () => fs.stat(p('none')),
        () => fs.lstat(p('none')),
        () => fs.readlink(p('none')),
        () => fs.opendir(p('none')),
        () => fs.rmdir(p('none')),
        () => fs.chmod(p('none'), 0o600),
        () => fs.stat(`${root}/bad\0name`),
      ];
      for (const attempt of attempts) {
        await assert.rejects(attempt(), (err: unknown) => err instanceof FerryError);
      }
      await rejectsWith(fs.stat(`${root}/bad\0name`), 'ERR_INVALID_PATH');
    });
  });
}
