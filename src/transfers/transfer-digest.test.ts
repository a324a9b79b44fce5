// Which transfers hash their file: all of them unless told `digest: false` (the shell), and then still every one a
// server can check (check-file), so turning the digest off never turns verification off.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { LocalFs } from '../vfs/local/local-fs.js';
import type { SftpClient } from './sftp-client.js';
import { download, upload } from './transfer.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The part of an SFTP client a transfer uses: one remote file in memory; `checkFile` reports `remoteHash`. */
function remote(content: Buffer, o: { checkFile: boolean; remoteHash?: string }) {
  const stored = { data: Buffer.alloc(0) };
  const fake = {
    readChunk: 64 * 1024,
    writeChunk: 64 * 1024,
    canCheckFile: o.checkFile,
    congested: false,
    open: async () => Buffer.from('h'),
    fstat: async () => ({ size: content.length }),
    stat: async () => ({ size: stored.data.length }),
    tryStat: async () => undefined,
    readChunks: async (_h: Buffer, offset: number, length: number) =>
      offset >= content.length ? null : [content.subarray(offset, offset + length)],
    releaseReadData: () => undefined,
    writeHeaderBytes: () => 8,
    writeFrame: async (_h: Buffer, offset: number, frame: Buffer) => {
      const data = frame.subarray(8);
      const grown = Buffer.alloc(Math.max(stored.data.length, offset + data.length));
      stored.data.copy(grown);
      data.copy(grown, offset);
      stored.data = grown;
    },
    fsync: async () => undefined,
    close: async () => undefined,
    rename: async () => undefined,
    remove: async () => undefined,
    sha256: async () => o.remoteHash ?? sha256(content),
  };
  return { sftp: fake as unknown as SftpClient, stored };
}

describe('transfer digests', async () => {
  let dir: string;
  let fs: LocalFs;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-digest-'));
    fs = new LocalFs({ root: dir });
  });
  after(async () => {
    await fs.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const content = randomBytes(300_000);
  const local = { fs: undefined as unknown as LocalFs, path: '/f.bin' };
  const at = () => ({ ...local, fs });

  it('a download hashes its file by default, and not with digest: false when nothing checks it', async () => {
    const hashed = await download(remote(content, { checkFile: false }).sftp, '/r', at(), {});
    assert.equal(hashed.sha256, sha256(content));
    assert.equal(hashed.verified, 'size');
    const plain = await download(remote(content, { checkFile: false }).sftp, '/r', at(), { digest: false });
    assert.equal(plain.sha256, undefined);
    assert.equal(plain.verified, 'size');
    assert.equal(plain.bytes, content.length);
  });

  it('a download with digest: false is still verified by a server that can check-file', async () => {
    const checked = await download(remote(content, { checkFile: true }).sftp, '/r', at(), { digest: false });
    assert.equal(checked.verified, 'check-file');
    assert.equal(checked.sha256, sha256(content));
    await assert.rejects(
      download(remote(content, { checkFile: true, remoteHash: '0'.repeat(64) }).sftp, '/r', at(), {
        digest: false,
      }),
      (err: unknown) => err instanceof FerryError && /SHA-256 differs/.test(err.message),
    );
  });

  it('an upload: the same rule', async () => {
    await writeFile(join(dir, 'up.bin'), content);
    const up = { fs, path: '/up.bin' };
    const plain = remote(Buffer.alloc(0), { checkFile: false });
    const result = await upload(plain.sftp, up, '/r', { digest: false, resume: false });
    assert.equal(result.sha256, undefined);
    assert.ok(plain.stored.data.equals(content), 'every byte sent');
    const byDefault = await upload(remote(Buffer.alloc(0), { checkFile: false }).sftp, up, '/r', {
      resume: false,
    });
    assert.equal(byDefault.sha256, sha256(content));
    const checked = await upload(remote(content, { checkFile: true }).sftp, up, '/r', {
      digest: false,
      resume: false,
    });
    assert.equal(checked.verified, 'check-file');
    await assert.rejects(
      upload(remote(content, { checkFile: true, remoteHash: 'f'.repeat(64) }).sftp, up, '/r', {
        digest: false,
        resume: false,
      }),
      (err: unknown) => err instanceof FerryError && /SHA-256 differs/.test(err.message),
    );
  });
});
