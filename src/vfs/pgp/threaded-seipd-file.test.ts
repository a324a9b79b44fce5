// ThreadedSeipdFile (native/aead/src/seipd.c) against SeipdWriter, the same message written on the calling thread
// and checked against GnuPG in src/keys/pgp-seipd-writer.test.ts: byte for byte at every size around the parts
// and the ring, with pipelined and oversized writes; a failing disk write fails the upload; threads are bounded.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type SeipdBegin, SeipdWriter } from '../../keys/pgp-seipd-writer.js';
import { LocalFile } from '../local/local-file.js';
import { sealingLimits, ThreadedSeipdFile } from './threaded-seipd-file.js';

const KIB = 1024;
const MIB = 1024 * KIB;
assert.ok(sealingLimits, 'native/aead is built with its sealing thread');
const { ringBytes: RING, maxThreads: MAX_THREADS } = sealingLimits;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-seipd-thread-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const begin = (): SeipdBegin => ({ head: randomBytes(100), sessionKey: randomBytes(32) });

/** What SeipdWriter writes for `data` with the same key, prefix and date. */
function reference(start: SeipdBegin, prefix: Buffer, date: number, data: Buffer): Buffer {
  const writer = new SeipdWriter(start.sessionKey, prefix, date);
  return Buffer.concat([start.head, ...writer.push(data), ...writer.finish()]);
}

async function threaded(name: string, start: SeipdBegin, prefix: Buffer, date: number) {
  const path = join(dir, name);
  const file = await ThreadedSeipdFile.start(new LocalFile(openSync(path, 'w'), null), start, {
    prefix,
    date,
  });
  assert.ok(file, 'the addon is built and has a thread free');
  return { path, file };
}

test('writes the bytes SeipdWriter writes, at every size around the 64 KiB parts and the ring', async () => {
  const sizes = [
    0,
    1,
    65529,
    65530,
    65531,
    65536,
    2 * 65536 - 6,
    3 * 65536,
    RING - 6,
    RING + 1,
    2 * RING + 123,
  ];
  for (const size of sizes) {
    const data = randomBytes(size);
    const start = begin();
    const prefix = randomBytes(18);
    const date = 1_700_000_000 + size;
    const { path, file } = await threaded(`sizes-${size}`, start, prefix, date);
    // Writes of varying sizes, as clients send them; one of them bigger than the ring.
    for (let at = 0, step = 1; at < size; step = (step * 7 + 13) % (RING + MIB)) {
      const piece = data.subarray(at, at + step + 1);
      await file.write(at, piece);
      at += piece.length;
    }
    assert.equal(file.plaintextSize, size);
    await file.close();
    assert.ok((await readFile(path)).equals(reference(start, prefix, date, data)), `size ${size}`);
  }
});

test('pipelined writes, sent before the ones before them are done, are taken in order', async () => {
  const data = randomBytes(2 * RING + 17);
  const start = begin();
  const prefix = randomBytes(18);
  const { path, file } = await threaded('pipelined', start, prefix, 1_700_000_000);
  const writes: Promise<void>[] = [];
  for (let at = 0; at < data.length; at += 32 * KIB)
    writes.push(file.write(at, data.subarray(at, at + 32 * KIB)));
  await Promise.all(writes);
  await file.sync();
  await file.close();
  assert.ok((await readFile(path)).equals(reference(start, prefix, 1_700_000_000, data)));
});

test('a write out of order is refused and fails the close; nothing after it is taken', async () => {
  const { file } = await threaded('gap', begin(), randomBytes(18), 1);
  await file.write(0, randomBytes(1000));
  await assert.rejects(file.write(5000, randomBytes(10)), { code: 'ERR_UNSUPPORTED' });
  await assert.rejects(file.write(1000, randomBytes(10)), { code: 'ERR_UNSUPPORTED' });
  await assert.rejects(file.close(), { code: 'ERR_UNSUPPORTED' });
});

test('a disk write that fails on the thread fails the upload, with the system error', async () => {
  const path = join(dir, 'read-only');
  await writeFile(path, '');
  // The head is taken (this stand-in's own write), then every pwritev of the thread fails: read-only descriptor.
  const fd = openSync(path, 'r');
  const inner = {
    ...new LocalFile(fd, null),
    descriptor: fd,
    write: async () => {},
    close: async () => closeSync(fd),
  };
  const file = await ThreadedSeipdFile.start(inner as unknown as LocalFile, begin());
  assert.ok(file);
  // Two parts' worth: the first full part goes to disk while the rest waits.
  const failed = await file
    .write(0, randomBytes(3 * 65536))
    .then(() => file.write(3 * 65536, randomBytes(3 * MIB)))
    .then(() => file.close())
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  assert.match(String((failed as Error | undefined)?.message), /EBADF/);
  assert.equal((failed as { code?: string }).code, 'ERR_IO');
  await assert.rejects(file.close().then(() => file.write(0, Buffer.alloc(1))));
});

test('a head that cannot be written fails the start and stops the thread', async () => {
  const path = join(dir, 'head');
  await writeFile(path, '');
  await assert.rejects(ThreadedSeipdFile.start(new LocalFile(openSync(path, 'r'), null), begin()), /EBADF/);
});

test('at most maxThreads messages are sealed by threads at once; beyond that the caller seals on its own thread', async () => {
  const files: ThreadedSeipdFile[] = [];
  try {
    for (;;) {
      const file = await ThreadedSeipdFile.start(
        new LocalFile(openSync(join(dir, `busy-${files.length}`), 'w'), null),
        begin(),
      );
      if (!file) break;
      files.push(file);
      assert.ok(files.length <= MAX_THREADS, 'more threads started than the limit');
    }
    assert.equal(files.length, MAX_THREADS);
  } finally {
    await Promise.all(files.map((f) => f.close()));
  }
  const again = await ThreadedSeipdFile.start(
    new LocalFile(openSync(join(dir, 'after'), 'w'), null),
    begin(),
  );
  assert.ok(again, 'threads are free again once the messages are closed');
  await again.close();
});
