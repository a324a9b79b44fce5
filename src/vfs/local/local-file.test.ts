// LocalFile reads: where fstat runs inline, the end of a file costs no read and a small file's data is read on this
// thread; elsewhere, and for a short read before the end, a read still fills its buffer.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalFile } from './local-file.js';
import { countingIo } from './read-calls-fixture.js';

const KIB = 1024;
let dir: string;
const small = randomBytes(4 * KIB);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-local-file-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function fileOf(name: string, data: Buffer, inline: boolean, shortReadv = false) {
  const path = join(dir, name);
  await writeFile(path, data);
  const { counts, io } = countingIo(shortReadv);
  return { path, counts, file: new LocalFile(openSync(path, 'r'), null, inline, io) };
}

test('inline: a 4 KiB download is one pread on this thread, its READ at the end none', async () => {
  const { counts, file } = await fileOf('inline.bin', small, true);
  try {
    assert.deepEqual(await file.read(0, 255 * KIB), small);
    assert.deepEqual([counts.read, counts.readSync], [0, 1], 'the data, and no second pread to see the end');
    assert.equal((await file.read(4 * KIB, 255 * KIB)).length, 0);
    assert.equal((await file.read(10 * KIB, 100, 13)).length, 13, 'past the end: the headroom only');
    assert.deepEqual([counts.read, counts.readSync], [0, 1], 'READs at the end answered without a pread');
  } finally {
    await file.close();
  }
});

test('on the pool (not inline): the end of the file is a pread that returns 0, as before', async () => {
  const { counts, file } = await fileOf('pool.bin', small, false);
  try {
    assert.deepEqual(await file.read(0, 255 * KIB), small);
    assert.equal(counts.read, 2);
    assert.equal((await file.read(4 * KIB, 255 * KIB)).length, 0);
    assert.equal(counts.read, 3);
  } finally {
    await file.close();
  }
});

test('inline: a file that grew after its end was read is read again, not taken for ended', async () => {
  const { path, file } = await fileOf('growing.bin', small, true);
  try {
    assert.equal((await file.read(4 * KIB, KIB)).length, 0);
    appendFileSync(path, 'more');
    assert.equal((await file.read(4 * KIB, KIB)).toString(), 'more');
  } finally {
    await file.close();
  }
});

test('inline: a short read before the end is continued until the buffer is full', async () => {
  // Eight pipelined reads go out as one preadv, which the counting calls cut to half its count.
  const data = randomBytes(256 * KIB);
  const { counts, file } = await fileOf('short.bin', data, true, true);
  try {
    const reads = Array.from({ length: 8 }, (_, i) => file.read(i * 32 * KIB, 32 * KIB));
    const got = await Promise.all(reads);
    assert.deepEqual(Buffer.concat(got), data);
    assert.ok(counts.readv >= 1, 'the short preadv happened');
  } finally {
    await file.close();
  }
});
