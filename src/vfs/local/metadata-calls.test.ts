// Where a local root's metadata calls run: inline ones finish while every thread of libuv's pool is taken,
// pool ones wait for a free thread; 'auto' picks inline on a local file system. A small file's data goes with them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, open, openSync, statfsSync } from 'node:fs';
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inMemoryWithoutSwap } from './cached-reads.js';
import { confine } from './confine.js';
import { LocalFs } from './local-fs.js';
import { INLINE_IO_BYTES } from './positional-batch.js';

/** Settles with the value, or 'pending' if `op` has not finished within `ms`. */
function within<T>(op: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  return Promise.race([op, late]).finally(() => clearTimeout(timer));
}

/**
 * Takes every thread of the pool: each opens a FIFO for reading, which blocks until a writer comes.
 * release() opens the writers (non-blocking, a reader is waiting), so each blocked open returns.
 */
async function takeThePool(): Promise<{ release: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pool-fifos-'));
  const size = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: size }, (_, i) => join(dir, `fifo-${i}`));
  for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
  const readers = fifos.map(
    (fifo) =>
      new Promise<number>((resolve, reject) =>
        open(fifo, constants.O_RDONLY, (err, fd) => (err ? reject(err) : resolve(fd))),
      ),
  );
  return {
    release: async () => {
      const writers: number[] = [];
      // A writer opens once its reader's open() is running on a pool thread; retry until it is.
      for (const fifo of fifos) {
        for (;;) {
          try {
            writers.push(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        }
      }
      for (const fd of await Promise.all(readers)) closeSync(fd);
      for (const fd of writers) closeSync(fd);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts `call` with every pool thread taken, checks it is still pending 300 ms later, frees the pool, and returns its result. */
async function waitsForThePool<T>(call: () => Promise<T>): Promise<T> {
  const pool = await takeThePool();
  const running = call();
  try {
    assert.equal(await within(running, 300), 'pending');
  } finally {
    await pool.release();
  }
  return running;
}

/** Whether the file system of `dir` answers preadv2(RWF_NOWAIT) (confine's readCached), which tmpfs does not. */
async function tellsWhatIsCached(dir: string): Promise<boolean> {
  const probe = join(dir, 'cached-probe');
  await writeFile(probe, 'x');
  const fd = openSync(probe, 'r');
  try {
    return confine.readCached!(fd, [Buffer.alloc(1)], 0) !== -2;
  } finally {
    closeSync(fd);
  }
}

/** This process' descriptors open on `path`. */
async function descriptorsOf(path: string): Promise<string[]> {
  const fds: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === path) fds.push(fd);
  }
  return fds;
}

describe('local metadata calls', () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'ferry-metadata-calls-'));
  });
  after(() => rm(base, { recursive: true, force: true }));

  /** A root of its own holding /a.txt ('hello'), already open (so no later call waits for its open). */
  async function rootWithFile(metadataCalls: 'inline' | 'pool'): Promise<LocalFs> {
    const dir = await mkdtemp(join(base, `${metadataCalls}-`));
    await writeFile(join(dir, 'a.txt'), 'hello');
    const fs = new LocalFs({ root: dir, metadataCalls });
    await fs.runsInline();
    return fs;
  }

  it("'auto' runs them inline on a local file system, 'pool' and 'inline' as told", async () => {
    const auto = new LocalFs({ root: base });
    const pool = new LocalFs({ root: base, metadataCalls: 'pool' });
    const inline = new LocalFs({ root: base, metadataCalls: 'inline' });
    try {
      // tmpdir() is ext4, XFS, Btrfs or tmpfs on every machine this suite runs on.
      assert.equal(await auto.runsInline(), true);
      assert.equal(await pool.runsInline(), false);
      assert.equal(await inline.runsInline(), true);
      assert.ok(!('type' in (await auto.statfs('/'))), 'statfs reports FsStatfs fields only');
    } finally {
      await Promise.all([auto.dispose(), pool.dispose(), inline.dispose()]);
    }
  });

  it('inline calls (open, fstat, close, rename, stat, unlink, mkdir) finish while the pool is taken', async () => {
    const fs = await rootWithFile('inline');
    const pool = await takeThePool();
    try {
      const calls = (async () => {
        const file = await fs.open('/a.txt', { read: true, write: false });
        const size = (await file.stat()).size;
        await file.close();
        await fs.rename('/a.txt', '/b.txt');
        await fs.mkdir('/sub');
        const kind = (await fs.lstat('/b.txt')).kind;
        await fs.unlink('/b.txt');
        return { size, kind, gone: await fs.stat('/b.txt').catch((err: { code: string }) => err.code) };
      })();
      assert.deepEqual(await within(calls, 5000), { size: 5, kind: 'file', gone: 'ERR_NOT_FOUND' });
    } finally {
      await pool.release();
      await fs.dispose();
    }
  });

  it("a small file's data (16 KiB at most) is written and read inline; larger writes and reads wait for the pool", async () => {
    const fs = await rootWithFile('inline');
    const small = Buffer.alloc(INLINE_IO_BYTES, 7);
    const pool = await takeThePool();
    let big: Promise<Buffer> | undefined;
    try {
      const calls = (async () => {
        const file = await fs.open('/small.bin', { read: true, write: true, create: true });
        await file.write(0, [small.subarray(0, 4096), small.subarray(4096)]);
        const back = await file.read(0, 64 * 1024);
        await file.close();
        return back;
      })();
      assert.deepEqual(await within(calls, 5000), small);
      // One byte more than the inline limit: the write waits for a thread.
      const file = await fs.open('/big.bin', { read: true, write: true, create: true });
      const write = file.write(0, Buffer.alloc(INLINE_IO_BYTES + 1, 8));
      assert.equal(await within(write, 300), 'pending');
      big = write.then(() => file.read(0, 64 * 1024)).finally(() => file.close());
    } finally {
      await pool.release();
    }
    assert.deepEqual(await big, Buffer.alloc(INLINE_IO_BYTES + 1, 8));
    // Reading a file with more than the limit left: cached data is read inline (cached-reads.ts) where the file
    // system tells what the page cache holds without blocking (RWF_NOWAIT: ext4, XFS, Btrfs) or holds everything
    // in memory (tmpfs without swap); elsewhere it waits for the pool. Its last bytes are read inline either way.
    const file = await fs.open('/big.bin', { read: true, write: false });
    if ((await tellsWhatIsCached(base)) || inMemoryWithoutSwap(statfsSync(base).type)) {
      const pool = await takeThePool();
      try {
        const head = await within(file.read(0, 4096), 5000);
        assert.notEqual(head, 'pending', 'cached data is read while the pool is taken');
        assert.deepEqual(head, Buffer.alloc(4096, 8));
      } finally {
        await pool.release();
      }
    } else assert.equal((await waitsForThePool(() => file.read(0, 4096))).length, 4096);
    const taken = await takeThePool();
    try {
      const tail = await within(file.read(4096, 64 * 1024), 5000);
      assert.notEqual(tail, 'pending');
      assert.equal((tail as Buffer).length, INLINE_IO_BYTES + 1 - 4096);
    } finally {
      await taken.release();
      await file.close();
      await fs.dispose();
    }
  });

  it('on a pool root, small writes and reads wait for the pool too', async () => {
    const fs = await rootWithFile('pool');
    const file = await fs.open('/a.txt', { read: true, write: true });
    await waitsForThePool(() => file.write(0, Buffer.from('HELLO')));
    assert.equal((await waitsForThePool(() => file.read(0, 100))).toString(), 'HELLO');
    await file.close();
    await fs.dispose();
  });

  it("a descriptor number past the addon's table is not marked: its root stays on the pool", () => {
    assert.equal(confine.setInline(70_000, true), false);
    assert.equal(confine.setInline(-1, true), false);
    assert.equal(confine.setInline(70_000, false), false);
  });

  it('a loop of inline calls lets timers and I/O run between them', async () => {
    const fs = new LocalFs({ root: base, metadataCalls: 'inline' });
    await fs.runsInline();
    let fired = false;
    const timer = setTimeout(() => {
      fired = true;
    }, 20);
    let calls = 0;
    // Without a turn of the loop per call, this would spin in microtasks and the timer would never fire.
    while (!fired && calls < 200_000) {
      await fs.stat('/');
      calls++;
    }
    clearTimeout(timer);
    await fs.dispose();
    assert.ok(fired, `the timer fired during ${calls} inline calls`);
  });

  it('pool calls wait for a free thread of the pool', async () => {
    const fs = await rootWithFile('pool');
    assert.equal((await waitsForThePool(() => fs.stat('/a.txt'))).size, 5);
    await fs.dispose();
  });

  it('a disposed inline root clears its mark: a pool root given the same descriptor number waits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-reused-root-'));
    const first = new LocalFs({ root: dir, metadataCalls: 'inline' });
    await first.runsInline();
    const firstFds = await descriptorsOf(dir);
    await first.dispose();
    const second = new LocalFs({ root: dir, metadataCalls: 'pool' });
    await second.runsInline();
    // The kernel hands out the lowest free number: the second root reuses the first one's.
    assert.deepEqual(await descriptorsOf(dir), firstFds);
    await waitsForThePool(() => second.stat('/'));
    await second.dispose();
    await rm(dir, { recursive: true, force: true });
  });
});
