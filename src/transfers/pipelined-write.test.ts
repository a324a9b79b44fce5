// The client's upload engine on the wire: each WRITE goes out from the buffer the local file was read into (its
// header written into room left in front), that buffer is read into again once the WRITE's reply is in, and the
// server receives every byte at its offset.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FX, FXP } from '../sftp/wire/constants.js';
import { STATUS_MESSAGES } from '../sftp/wire/status.js';
import { encodeHandle, encodeStatus } from '../sftp/wire/writer.js';
import { LocalFile } from '../vfs/local/local-file.js';
import { scriptedServer } from './scripted-server-fixture.js';
import { OPEN, SftpClient } from './sftp-client.js';
import { pipelinedWrite } from './transfer-io.js';

/** A local file that keeps every buffer its reads returned. */
class RecordingFile extends LocalFile {
  readonly returned: Buffer[] = [];
  override async read(position: number, length: number, headroom = 0, into?: Buffer): Promise<Buffer> {
    const buffer = await super.read(position, length, headroom, into);
    this.returned.push(buffer);
    return buffer;
  }
}

describe('pipelined writes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pwrite-'));
  after(() => rm(dir, { recursive: true, force: true }));

  it('send each WRITE from the buffer its data was read into, every byte at its offset', async () => {
    const content = randomBytes(9 * 32 * 1024 + 1234);
    const path = join(dir, 'up.bin');
    writeFileSync(path, content);
    const file = new RecordingFile(openSync(path, 'r'), path);
    const received = Buffer.alloc(content.length);
    const writtenChunks: Buffer[] = [];
    let writes = 0;
    const channel = scriptedServer(
      (type, id, r) => {
        if (type === FXP.OPEN) return encodeHandle(id, Buffer.from('handle-7'));
        if (type === FXP.WRITE) {
          writes++;
          assert.equal(r.string().toString(), 'handle-7');
          const offset = r.uint64();
          r.string().copy(received, offset);
        }
        return encodeStatus(id, FX.OK, STATUS_MESSAGES[FX.OK]);
      },
      { onWrite: (chunk) => writtenChunks.push(chunk) },
    );
    const client = await SftpClient.start(channel);
    const handle = await client.open('/up.bin', OPEN.WRITE);
    const hashed: Buffer[] = [];
    // A running hash takes the bytes during update (the buffer is read into again later).
    await pipelinedWrite(
      client,
      handle,
      file,
      0,
      content.length,
      { update: (d) => hashed.push(Buffer.from(d)) },
      {},
    );
    await file.close();
    assert.ok(received.equals(content), 'every byte, at its offset');
    assert.ok(Buffer.concat(hashed).equals(content), 'the hash saw the data, without the headers');
    assert.equal(writes, 10);
    // Without limits@openssh.com a WRITE carries 32 KiB, too large to be gathered with others: one channel write
    // each, and that write is the very buffer the file's read returned.
    for (const frame of file.returned) {
      assert.ok(
        writtenChunks.some((w) => w.buffer === frame.buffer && w.byteOffset === frame.byteOffset),
        'a WRITE went out from a copy of what was read',
      );
    }
  });

  it("read into a WRITE's buffer again once its reply is in: as many buffers as requests in flight", async () => {
    const content = randomBytes(40 * 32 * 1024 + 77);
    const path = join(dir, 'many.bin');
    writeFileSync(path, content);
    const file = new RecordingFile(openSync(path, 'r'), path);
    const received = Buffer.alloc(content.length);
    const channel = scriptedServer((type, id, r) => {
      if (type === FXP.OPEN) return encodeHandle(id, Buffer.from('h'));
      if (type === FXP.WRITE) {
        r.string();
        const offset = r.uint64();
        r.string().copy(received, offset);
      }
      return encodeStatus(id, FX.OK, STATUS_MESSAGES[FX.OK]);
    });
    const client = await SftpClient.start(channel);
    const handle = await client.open('/many.bin', OPEN.WRITE);
    await pipelinedWrite(client, handle, file, 0, content.length, undefined, { depth: 4 });
    await file.close();
    assert.ok(received.equals(content), 'every byte, at its offset, though buffers were reused');
    assert.equal(file.returned.length, 41);
    const distinct = new Set(file.returned.map((b) => b.buffer)).size;
    // At most the depth's WRITEs wait for replies, and one more is being read.
    assert.ok(distinct <= 5, `${distinct} buffers for 41 reads with 4 in flight`);
  });

  it('fail with a clear error when the local file is shorter than the upload expects', async () => {
    const path = join(dir, 'short.bin');
    writeFileSync(path, randomBytes(3 * 32 * 1024 + 5));
    const file = new RecordingFile(openSync(path, 'r'), path);
    const channel = scriptedServer((type, id) =>
      type === FXP.OPEN ? encodeHandle(id, Buffer.from('h')) : encodeStatus(id, FX.OK, ''),
    );
    const client = await SftpClient.start(channel);
    const handle = await client.open('/short.bin', OPEN.WRITE);
    await assert.rejects(
      pipelinedWrite(client, handle, file, 0, 8 * 32 * 1024, undefined, {}),
      /local file shrank during upload/,
    );
    await file.close();
  });

  it('refuse a frame with no room for the header', async () => {
    const channel = scriptedServer((type, id) =>
      type === FXP.OPEN ? encodeHandle(id, Buffer.from('h')) : encodeStatus(id, FX.OK, ''),
    );
    const client = await SftpClient.start(channel);
    const handle = await client.open('/x', OPEN.WRITE);
    await assert.rejects(
      client.writeFrame(handle, 0, Buffer.alloc(client.writeHeaderBytes(handle) - 1)),
      RangeError,
    );
  });
});
