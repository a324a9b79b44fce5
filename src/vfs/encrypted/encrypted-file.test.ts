// How encrypted files move data: a few segment buffers reused for a whole transfer, one stored piece per segment, no read-back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ByteChunks } from '../../util/byte-chunks.js';
import { chunksOf } from '../../util/byte-chunks.js';
import { ForwardingFs } from '../forwarding-fs.js';
import { LocalFs } from '../local/local-fs.js';
import type { FsFile, FsOpenFlags, FsStat } from '../types.js';
import { SEALED_SEGMENT_SIZE, SEGMENT_SIZE, segmentOffset } from './container.js';
import { EncryptedFs } from './encrypted-fs.js';
import { newMasterKey } from './encrypted-fs-fixture.js';
import { segmentBuffers } from './segment-buffers.js';
import { SegmentCache } from './segment-cache.js';
import { StorageKeyRing, storageKekOf } from './storage-keys.js';

/** What reached the real backend: the memory each stored or read segment used, and the calls. */
interface Traffic {
  segmentWrites: number;
  segmentReads: number;
  writeChunks: number;
  /** Distinct ArrayBuffers that segment-sized writes and reads used. */
  readonly memory: Set<ArrayBufferLike>;
}

/** Holds back backend reads at one position until `open` settles. */
interface ReadGate {
  readonly position: number;
  readonly open: Promise<void>;
}

class RecordingFile implements FsFile {
  constructor(
    private readonly file: FsFile,
    private readonly traffic: Traffic,
    private readonly gate: () => ReadGate | undefined,
    private readonly withDescriptor: boolean,
  ) {}
  get resolvedPath() {
    return this.file.resolvedPath;
  }
  /** Hidden unless asked for: with it, segments are read by the native job, not through read(). */
  get descriptor() {
    return this.withDescriptor ? this.file.descriptor : undefined;
  }
  read(position: number, length: number, headroom?: number, into?: Buffer): Promise<Buffer> {
    if (length === SEALED_SEGMENT_SIZE) {
      this.traffic.segmentReads++;
      if (into) this.traffic.memory.add(into.buffer);
    }
    const gate = this.gate();
    if (gate?.position === position) {
      return gate.open.then(() => this.file.read(position, length, headroom, into));
    }
    return this.file.read(position, length, headroom, into);
  }
  write(position: number, data: ByteChunks): Promise<void> {
    const chunks = chunksOf(data);
    if (chunks.some((c) => c.length === SEALED_SEGMENT_SIZE)) {
      this.traffic.segmentWrites++;
      this.traffic.writeChunks += chunks.length;
      for (const c of chunks) this.traffic.memory.add(c.buffer);
    }
    return this.file.write(position, data);
  }
  stat(): Promise<FsStat> {
    return this.file.stat();
  }
  truncate(size: number) {
    return this.file.truncate(size);
  }
  chmod(mode: number) {
    return this.file.chmod(mode);
  }
  utimes(atime: number, mtime: number) {
    return this.file.utimes(atime, mtime);
  }
  sync() {
    return this.file.sync();
  }
  close() {
    return this.file.close();
  }
}

/** A real local backend whose files report what the encrypted layer asked of them. */
class RecordingFs extends ForwardingFs {
  traffic: Traffic = { segmentWrites: 0, segmentReads: 0, writeChunks: 0, memory: new Set() };
  gate: ReadGate | undefined;
  withDescriptor = false;
  override async open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    const file = await this.inner.open(path, flags, mode);
    return new RecordingFile(file, this.traffic, () => this.gate, this.withDescriptor);
  }
  reset(): void {
    this.traffic = { segmentWrites: 0, segmentReads: 0, writeChunks: 0, memory: new Set() };
  }
}

const SEGMENTS = 256;
/**
 * Buffers a transfer may use: a client's window of 64 pipelined 32 KiB requests spans up to 33 segments, plus
 * the file's cache (4) and segments on their way to disk (8); one buffer per segment would be SEGMENTS.
 */
const BUFFER_BOUND = 33 + 4 + 8;
const PIECE = 32_768;

/** Runs `request` for each 32 KiB piece of `size` bytes, 64 in flight, as OpenSSH sftp pipelines them. */
async function pipelined<T>(size: number, request: (at: number) => Promise<T>, lanes = 64): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const lane = async () => {
    while (next < size) {
      const at = next;
      next += PIECE;
      results[at / PIECE] = await request(at);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return results;
}

describe('encrypted file transfers', () => {
  let dir: string;
  let keyDir: string;
  let raw: RecordingFs;
  let fs: EncryptedFs;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-encfile-'));
    keyDir = await mkdtemp(join(tmpdir(), 'ferry-encfile-key-'));
    raw = new RecordingFs(new LocalFs());
    fs = new EncryptedFs(raw, { keys: new StorageKeyRing(storageKekOf(await newMasterKey(keyDir))) });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(keyDir, { recursive: true, force: true });
  });
  /** A new encrypted file `name` holding `data`, written in one call and closed; its path. */
  async function storedFile(name: string, data: Buffer): Promise<string> {
    const path = join(dir, name);
    const up = await fs.open(path, { read: false, write: true, create: true, truncate: true });
    await up.write(0, data);
    await up.close();
    return path;
  }

  it('uploads and downloads 16 MiB through a few dozen reused segment buffers', async () => {
    const data = randomBytes(SEGMENTS * SEGMENT_SIZE + 1000);
    const path = join(dir, 'up.bin');
    const up = await fs.open(path, { read: false, write: true, create: true, truncate: true });
    await pipelined(data.length, (at) => up.write(at, Buffer.from(data.subarray(at, at + PIECE))));
    await up.close();
    const stored = raw.traffic;
    assert.equal(stored.segmentWrites, SEGMENTS, 'one stored piece per full segment');
    assert.equal(
      stored.writeChunks,
      SEGMENTS,
      'each sealed in one buffer: nonce, ciphertext and tag together',
    );
    assert.equal(stored.segmentReads, 0, 'a sequential upload never reads a segment back');
    assert.ok(stored.memory.size <= BUFFER_BOUND, `${stored.memory.size} buffers for ${SEGMENTS} segments`);

    raw.reset();
    const down = await fs.open(path, { read: true, write: false });
    const got = Buffer.concat(await pipelined(data.length, (at) => down.read(at, PIECE)));
    await down.close();
    assert.ok(got.equals(data), 'the same bytes back');
    assert.equal(raw.traffic.segmentReads, SEGMENTS, 'each segment read once for its two 32 KiB reads');
    assert.ok(
      raw.traffic.memory.size <= BUFFER_BOUND,
      `${raw.traffic.memory.size} read buffers for ${SEGMENTS} segments`,
    );
  });

  it('a download whose window spans 64 segments reuses its buffers: none allocated after the first window', async () => {
    // OpenSSH 9.2's sftp kept ~70 segments loading during a download; 128 lanes of 32 KiB span 64.
    const data = randomBytes(SEGMENTS * SEGMENT_SIZE);
    const path = await storedFile('wide.bin', data);
    const download = async () => {
      const down = await fs.open(path, { read: true, write: false });
      const got = Buffer.concat(await pipelined(data.length, (at) => down.read(at, PIECE), 128));
      await down.close();
      assert.ok(got.equals(data));
    };
    await download();
    const before = segmentBuffers.allocated;
    await download();
    const fresh = segmentBuffers.allocated - before;
    assert.ok(fresh <= 8, `${fresh} segment buffers allocated again for ${SEGMENTS} segments`);
  });

  it('a segment evicted while a read copies from it goes back to the pool when that read lets go', () => {
    const cache = new SegmentCache();
    const segment = cache.add(5, segmentBuffers.take(), 100);
    cache.pin(5, 1, 1);
    cache.pin(5, 1, 1);
    const free = segmentBuffers.free;
    cache.evict(5, segment);
    assert.equal(segmentBuffers.free, free, 'not reused while read');
    cache.pin(5, 1, -1);
    assert.equal(segmentBuffers.free, free, 'one read still holds it');
    cache.pin(5, 1, -1);
    assert.equal(segmentBuffers.free, free + 1, 'back in the pool');
    assert.equal(segmentBuffers.take(), segment.buffer);
  });

  it('stores a segment as soon as a write fills it, and reads it back for a later write into it', async () => {
    const S = SEGMENT_SIZE;
    const data = randomBytes(S + 500);
    const path = join(dir, 'eager.bin');
    const file = await fs.open(path, { read: true, write: true, create: true, truncate: true });
    try {
      await file.write(0, Buffer.from(data.subarray(0, S / 2)));
      assert.equal(raw.traffic.segmentWrites, 0, 'half a segment stays in memory');
      await file.write(S / 2, Buffer.from(data.subarray(S / 2, S + 500)));
      assert.equal(
        raw.traffic.segmentWrites,
        1,
        'the filled segment went to disk with the write that filled it',
      );
      const patch = randomBytes(100);
      patch.copy(data, S / 4);
      await file.write(S / 4, patch);
      assert.equal(raw.traffic.segmentReads, 1, 'the stored segment was read back to be changed');
      assert.ok((await file.read(0, data.length)).equals(data), 'the file reads back whole, patch included');
    } finally {
      await file.close();
    }
    const again = await fs.open(path, { read: true, write: false });
    assert.ok((await again.read(0, data.length + 10)).equals(data), 'and so it does after closing');
    await again.close();
  });

  it('keeps a segment a slow read still copies from out of reuse when a faster read finishes it', async () => {
    const S = SEGMENT_SIZE;
    const data = randomBytes(3 * S + 10);
    const path = await storedFile('pinned.bin', data);
    let release = () => {};
    raw.gate = { position: segmentOffset(1), open: new Promise<void>((r) => (release = r)) };
    const file = await fs.open(path, { read: true, write: false });
    try {
      // A spans segments 0 and 1 and waits for 1; B reads segment 0 to its end, which evicts it; C loads
      // segment 2 into whatever buffer is free. Only then does A copy from segment 0.
      const a = file.read(S - 100, 200);
      const b = await file.read(S / 2, S / 2);
      const c = await file.read(2 * S, 100);
      release();
      assert.ok(b.equals(data.subarray(S / 2, S)) && c.equals(data.subarray(2 * S, 2 * S + 100)));
      assert.ok((await a).equals(data.subarray(S - 100, S + 100)), 'the slow read got its own bytes');
    } finally {
      raw.gate = undefined;
      await file.close();
    }
  });

  it("reads a local file's segments in one native job each (read and opened there), never through the file", async () => {
    const data = randomBytes(64 * SEGMENT_SIZE + 1000);
    const path = join(dir, 'jobs.bin');
    const up = await fs.open(path, { read: false, write: true, create: true, truncate: true });
    await pipelined(data.length, (at) => up.write(at, Buffer.from(data.subarray(at, at + PIECE))));
    await up.close();
    raw.withDescriptor = true;
    raw.reset();
    const down = await fs.open(path, { read: true, write: false });
    const got = Buffer.concat(await pipelined(data.length, (at) => down.read(at, PIECE)));
    await down.close();
    assert.ok(got.equals(data), 'the same bytes back');
    assert.equal(raw.traffic.segmentReads, 0, 'no segment went through the file');
    // The same file without the descriptor: the file's reads, opened on this thread, give the same bytes.
    raw.withDescriptor = false;
    const again = await fs.open(path, { read: true, write: false });
    const viaFile = Buffer.concat(await pipelined(data.length, (at) => again.read(at, PIECE)));
    await again.close();
    assert.ok(viaFile.equals(data));
    assert.equal(raw.traffic.segmentReads, 64, 'the fallback reads each full segment through the file');
  });

  it('in the native job too, a changed byte fails authentication and a cut file reads as truncated', async () => {
    const S = SEGMENT_SIZE;
    const data = randomBytes(4 * S + 300);
    const path = await storedFile('tampered.bin', data);
    raw.withDescriptor = true;
    const stored = await readFile(path);
    stored[segmentOffset(2) + 100]! ^= 1;
    await writeFile(path, stored);
    const file = await fs.open(path, { read: true, write: false });
    try {
      await assert.rejects(file.read(2 * S + 10, 10), /segment 2 failed authentication/);
      assert.ok((await file.read(S, 10)).equals(data.subarray(S, S + 10)), 'other segments still read');
    } finally {
      await file.close();
    }
    // Cut under an open file (its size was taken at open): the job's read ends early.
    const cut = await fs.open(path, { read: true, write: false });
    try {
      await truncate(path, segmentOffset(4) + 100);
      await assert.rejects(cut.read(4 * S, 10), /truncated \(segment 4 is missing or cut\)/);
      // Cut at open, the shorter last segment claims to be final and does not authenticate as such.
      const reopened = await fs.open(path, { read: true, write: false });
      await assert.rejects(reopened.read(4 * S, 10), /segment 4 failed authentication/);
      await reopened.close();
    } finally {
      await cut.close();
    }
    assert.equal(raw.traffic.segmentReads, 0, 'all through the native job');
  });
});
