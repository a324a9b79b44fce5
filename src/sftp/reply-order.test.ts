// Pipelined READs on one handle are answered in request order, as sftp-server does and PuTTY's pscp requires.
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeSessionFixture, upload } from '../core/session-fixture.js';
import type { FileHandle, FileSession } from '../core/types.js';
import { rootLogger } from '../logger.js';
import { serveSftp } from './server.js';
import { FX, FXF, FXP } from './wire/constants.js';
import { PacketFramer } from './wire/framer.js';
import { PacketReader } from './wire/reader.js';
import { PacketWriter } from './wire/writer.js';

const logger = rootLogger.child({ logger: 'sftp-test' }, { level: 'silent' });

/** Delegates to a core object (methods bound: it has private fields) with some members replaced. */
function override<T extends object>(target: T, replaced: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (Object.hasOwn(replaced, property)) return replaced[property as keyof T];
      const value: unknown = Reflect.get(object, property);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/** A session whose reads at offset 0 are slow, so a later READ's EOF would finish first. */
function slowFirstReads(session: FileSession): FileSession {
  return override(session, {
    openFile: async (...args: Parameters<FileSession['openFile']>) => {
      const file = await session.openFile(...args);
      return override<FileHandle>(file, {
        read: async (offset: number, length: number, headroom?: number) => {
          if (offset === 0) await sleep(60);
          return file.read(offset, length, headroom);
        },
      });
    },
  });
}

describe('sftp reply order', () => {
  it('answers pipelined READs of one handle in request order, so pscp downloads small files', async () => {
    const fx = await makeSessionFixture();
    try {
      await upload(fx.open(), '/small.txt', Buffer.from('hello putty\n'));
      const replies: PacketReader[] = [];
      const framer = new PacketFramer(1 << 20);
      const channel = new Duplex({
        allowHalfOpen: true,
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          framer.push(chunk);
          for (let p = framer.next(); p; p = framer.next()) replies.push(new PacketReader(Buffer.from(p)));
          callback();
        },
      });
      const served = serveSftp(channel, slowFirstReads(fx.open()), { logger });
      const waitFor = async (count: number): Promise<void> => {
        while (replies.length < count) await sleep(5);
      };
      channel.push(new PacketWriter(FXP.INIT).uint32(3).finish());
      channel.push(
        new PacketWriter(FXP.OPEN).uint32(1).string('/small.txt').uint32(FXF.READ).uint32(0).finish(),
      );
      await waitFor(2);
      const open = replies[1]!;
      assert.equal(open.uint8(), FXP.HANDLE);
      open.uint32();
      const handle = Buffer.from(open.string());
      // What pscp sends: 32 KiB READs queued ahead; only the first one finds data.
      for (const [id, offset] of [
        [10, 0],
        [11, 32768],
        [12, 65536],
      ] as const) {
        channel.push(
          new PacketWriter(FXP.READ).uint32(id).string(handle).uint64(offset).uint32(32768).finish(),
        );
      }
      await waitFor(5);
      const order = replies.slice(2).map((reply) => {
        const type = reply.uint8();
        return { type, id: reply.uint32(), code: type === FXP.STATUS ? reply.uint32() : undefined };
      });
      assert.deepEqual(order, [
        { type: FXP.DATA, id: 10, code: undefined },
        { type: FXP.STATUS, id: 11, code: FX.EOF },
        { type: FXP.STATUS, id: 12, code: FX.EOF },
      ]);
      channel.push(null);
      await served;
    } finally {
      await fx.cleanup();
    }
  });
});
