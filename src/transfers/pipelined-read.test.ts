// The client's download engine on the wire: READs leave in batches (one channel write each), replies reach the
// sink as the slices they arrived in, and a large request never overtakes the small ones sent before it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { FX, FXP } from '../sftp/wire/constants.js';
import { STATUS_MESSAGES } from '../sftp/wire/status.js';
import { DATA_HEADER_LENGTH, encodeDataInPlace, encodeHandle, encodeStatus } from '../sftp/wire/writer.js';
import { scriptedServer } from './scripted-server-fixture.js';
import { OPEN, SftpClient } from './sftp-client.js';
import { pipelinedRead } from './transfer-io.js';

const SLICE = 8 * 1024;

/** A DATA reply for `data`, pushed as chunks of SLICE bytes (as ssh2 hands a channel's packets on). */
function dataReply(id: number, data: Buffer): Buffer[] {
  const packet = Buffer.alloc(DATA_HEADER_LENGTH + data.length);
  data.copy(packet, DATA_HEADER_LENGTH);
  const reply = encodeDataInPlace(id, packet);
  const chunks: Buffer[] = [];
  for (let at = 0; at < reply.length; at += SLICE) chunks.push(reply.subarray(at, at + SLICE));
  return chunks;
}

/** A server holding `content` at /f, counting the client's channel writes and the READs they carried. */
async function serving(content: Buffer) {
  const seen = { writes: 0, reads: 0, ids: [] as number[] };
  const channel = scriptedServer(
    (type, id, r) => {
      seen.ids.push(id);
      if (type === FXP.OPEN) return encodeHandle(id, Buffer.from('h'));
      if (type === FXP.READ) {
        seen.reads++;
        r.string();
        const offset = r.uint64();
        const length = r.uint32();
        if (offset >= content.length) return encodeStatus(id, FX.EOF, STATUS_MESSAGES[FX.EOF]);
        return dataReply(id, content.subarray(offset, offset + length));
      }
      return encodeStatus(id, FX.OK, STATUS_MESSAGES[FX.OK]);
    },
    { onWrite: () => seen.writes++ },
  );
  const client = await SftpClient.start(channel);
  return { client, seen };
}

describe('pipelined reads', () => {
  it('send their READs in batches, one channel write per batch', async () => {
    const content = randomBytes(128 * 32 * 1024 + 777);
    const { client, seen } = await serving(content);
    const handle = await client.open('/f', OPEN.READ);
    const before = seen.writes;
    const got: Buffer[] = [];
    const end = await pipelinedRead(client, handle, 0, content.length, (data) => void got.push(...data), {
      depth: 32,
    });
    assert.equal(end, content.length);
    assert.ok(Buffer.concat(got).equals(content), 'every byte, in order');
    const writes = seen.writes - before;
    // 130 READs (129 with data, one finding the end): one write each before batching.
    assert.ok(seen.reads >= 130, `${seen.reads} READs`);
    assert.ok(writes * 6 <= seen.reads, `${writes} channel writes carried ${seen.reads} READs`);
  });

  it('hand each reply on as the slices it arrived in, uncopied', async () => {
    const content = randomBytes(3 * 32 * 1024);
    const { client } = await serving(content);
    const handle = await client.open('/f', OPEN.READ);
    const replies: Array<readonly Buffer[]> = [];
    await pipelinedRead(client, handle, 0, content.length, (data, length) => {
      assert.equal(
        length,
        data.reduce((n, b) => n + b.length, 0),
      );
      replies.push(data);
    });
    assert.equal(replies.length, 3);
    for (const data of replies) assert.ok(data.length >= 4, `a 32 KiB reply in ${data.length} slices`);
  });

  it('a large request leaves after the small ones sent before it in the same turn', async () => {
    const { client, seen } = await serving(Buffer.alloc(0));
    const handle = await client.open('/f', OPEN.WRITE);
    seen.ids.length = 0;
    const small = client.remove('/a');
    const big = client.write(handle, 0, randomBytes(64 * 1024));
    const last = client.remove('/b');
    await Promise.all([small, big, last]);
    assert.deepEqual(
      seen.ids,
      [...seen.ids].sort((a, b) => a - b),
      'answered in the order sent',
    );
  });
});
