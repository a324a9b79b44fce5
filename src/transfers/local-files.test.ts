// Partner downloads write the local side through an Fs, into the same hidden, claimed partial a session's upload uses.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { listNames, makeSessionFixture, RESUME, type SessionFixture } from '../core/session-fixture.js';
import { FerryError } from '../errors.js';
import { LocalFs } from '../vfs/local/local-fs.js';
import type { SftpClient } from './sftp-client.js';
import { download, type LocalFile } from './transfer.js';

/**
 * The part of an SFTP client a download uses, serving one file from memory and counting bytes read; with
 * `failAt`, the connection is lost at that offset.
 */
function remoteFile(content: Buffer, failAt = Infinity): { sftp: SftpClient; bytesRead: () => number } {
  let bytesRead = 0;
  const fake = {
    readChunk: 64 * 1024,
    canCheckFile: false,
    congested: false,
    open: async () => Buffer.from('h'),
    fstat: async () => ({ size: content.length, permissions: 0o100640, mtime: 1_700_000_000 }),
    // As a real reply arrives: in slices of the channel's 32 KiB packets.
    readChunks: async (_handle: Buffer, offset: number, length: number) => {
      if (offset >= content.length) return null;
      if (offset >= failAt) throw new Error('connection lost');
      const data = content.subarray(offset, offset + length);
      bytesRead += data.length;
      const slices: Buffer[] = [];
      for (let at = 0; at < data.length; at += 32 * 1024) slices.push(data.subarray(at, at + 32 * 1024));
      return slices;
    },
    releaseReadData: () => undefined,
    close: async () => undefined,
  };
  return { sftp: fake as unknown as SftpClient, bytesRead: () => bytesRead };
}

const code = (expected: string) => (err: unknown) => err instanceof FerryError && err.code === expected;

describe('partner downloads into a user home', () => {
  let fx: SessionFixture;
  let fs: LocalFs;
  let local: LocalFile;

  beforeEach(async () => {
    fx = await makeSessionFixture();
    await mkdir(join(fx.homeDir, 'in'), { recursive: true });
    fs = new LocalFs({ root: fx.homeDir });
    local = { fs, path: '/in/report.csv', root: fx.homeDir };
  });
  afterEach(async () => {
    await fs.dispose();
    await fx.cleanup();
  });

  it("resume a partial the user cannot see, under the core's partial name", async () => {
    const content = randomBytes(300_000);
    await writeFile(join(fx.homeDir, 'in', '.ferry-part.report.csv'), content.subarray(0, 100_000));
    assert.deepEqual(await listNames(fx.open(), '/in'), ['.', '..'], 'the partial is hidden from listings');
    const remote = remoteFile(content);
    const result = await download(remote.sftp, '/out/report.csv', local, { preserve: true });
    assert.equal(result.resumedFrom, 100_000);
    assert.equal(remote.bytesRead(), 200_000, 'only the missing part crossed the network');
    assert.ok((await readFile(join(fx.homeDir, 'in', 'report.csv'))).equals(content));
    assert.deepEqual(await readdir(join(fx.homeDir, 'in')), ['report.csv'], 'no partial is left');
  });

  it('never writes a partial a session upload of the same name holds', async () => {
    const upload = await fx.open().openFile('/in/report.csv', RESUME);
    await upload.write(0, Buffer.from('from the user'));
    await assert.rejects(download(remoteFile(randomBytes(10)).sftp, '/x', local), code('ERR_LIMIT'));
    await upload.close();
    assert.equal(await readFile(join(fx.homeDir, 'in', 'report.csv'), 'utf8'), 'from the user');
  });

  it('writes what arrives a mebibyte at a time, and the file whole', async () => {
    const content = randomBytes(5 * 1024 * 1024 + 12_345);
    const writes: number[] = [];
    const open = fs.open.bind(fs);
    // This test's own LocalFs (beforeEach makes one per test), its open counting the writes of each file.
    fs.open = async (...args: Parameters<LocalFs['open']>) => {
      const file = await open(...args);
      const write = file.write.bind(file);
      file.write = (position, data) => {
        writes.push(Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).length);
        return write(position, data);
      };
      return file;
    };
    const result = await download(remoteFile(content).sftp, '/out/report.csv', local);
    assert.equal(result.sha256, createHash('sha256').update(content).digest('hex'));
    assert.ok((await readFile(join(fx.homeDir, 'in', 'report.csv'))).equals(content));
    // 81 replies of 64 KiB: one write per reply before; now one per mebibyte gathered, and the rest at the end.
    assert.deepEqual(writes, [...Array(5).fill(1024 * 1024), 12_345]);
  });

  it('keeps everything that arrived before a lost connection in the partial, and resumes after it', async () => {
    const content = randomBytes(3 * 1024 * 1024);
    const lostAt = 1024 * 1024 + 5 * 64 * 1024;
    await assert.rejects(
      download(remoteFile(content, lostAt).sftp, '/out/report.csv', local),
      /connection lost/,
    );
    const partial = await readFile(join(fx.homeDir, 'in', '.ferry-part.report.csv'));
    assert.ok(
      partial.equals(content.subarray(0, lostAt)),
      `the partial holds ${partial.length} of ${lostAt} bytes`,
    );
    const remote = remoteFile(content);
    const result = await download(remote.sftp, '/out/report.csv', local);
    assert.equal(result.resumedFrom, lostAt);
    assert.equal(remote.bytesRead(), content.length - lostAt);
    assert.ok((await readFile(join(fx.homeDir, 'in', 'report.csv'))).equals(content));
  });

  it('stays inside the directory it is rooted at', async () => {
    const outside = { fs, path: '/../../../escaped.csv', root: fx.homeDir };
    await download(remoteFile(Buffer.from('data')).sftp, '/x', outside);
    assert.equal(await readFile(join(fx.homeDir, 'escaped.csv'), 'utf8'), 'data');
  });
});
