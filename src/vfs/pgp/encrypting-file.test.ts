// EncryptingFile (openpgp.js streams) and SeipdEncryptingFile (unsigned binary, SeipdWriter) over the local
// backend: pipelined writes become one message, in memory bounded whatever the size.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadableStream } from 'node:stream/web';
import { test } from 'node:test';
import { generatePgpKey } from '../../keys/pgp.js';
import { SeipdWriter } from '../../keys/pgp-seipd-writer.js';
import { decryptStream, encryptStream } from '../../keys/pgp-stream-crypt.js';
import { retainedBytes } from '../../util/retained-memory-fixture.js';
import { LocalFs } from '../local/local-fs.js';
import type { FsFile } from '../types.js';
import { EncryptingFile } from './encrypting-file.js';
import { SeipdEncryptingFile } from './seipd-encrypting-file.js';

const KINDS = {
  streams: async (inner: FsFile, recipient: string) =>
    EncryptingFile.start(inner, (plain) => encryptStream(plain, { recipients: [recipient] })),
  seipd: async (inner: FsFile, recipient: string) =>
    SeipdEncryptingFile.start(inner, await SeipdWriter.start([recipient])),
} as const;

for (const [kind, start] of Object.entries(KINDS)) {
  test(`${kind}: 192 MiB written 32 KiB at a time, 64 writes in flight, retain under 64 MiB and decrypt to the same bytes`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-encfile-'));
    const fs = new LocalFs({ root: dir, createRoot: true });
    try {
      const key = await generatePgpKey({ name: 'k', email: 'k@example.com' });
      const inner = await fs.open('/m.pgp', { read: false, write: true, create: true, truncate: true });
      const file = await start(inner, key.publicArmored);
      const total = 192 * 1024 * 1024;
      const chunk = 32 * 1024;
      const hash = createHash('sha256');
      const baseline = retainedBytes();
      let worst = 0;
      const inFlight = new Set<Promise<void>>();
      for (let position = 0; position < total; position += chunk) {
        const data = Buffer.alloc(chunk, (position / chunk) % 251);
        hash.update(data);
        const write = file.write(position, data);
        inFlight.add(write);
        void write.then(() => inFlight.delete(write));
        if (inFlight.size >= 64) await Promise.race(inFlight);
        if (position % (32 * 1024 * 1024) === 0 && position > 0)
          worst = Math.max(worst, retainedBytes() - baseline);
      }
      await Promise.all(inFlight);
      assert.equal((await file.stat()).size, total, 'stat reports the plaintext written');
      await file.close();
      // The bound (64 MiB). Held: 6-8 MiB; without the backpressure 160 MiB. (Before the fixture swept
      // inside the collection, unswept garbage read 23-34 MiB here, and 65 MiB once on a loaded CI machine.)
      assert.ok(worst < 64 * 1024 * 1024, `retained ${(worst / 2 ** 20).toFixed(1)} MiB while encrypting`);

      const cipher = await fs.open('/m.pgp', { read: true, write: false });
      let at = 0;
      const input = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const data = await cipher.read(at, 256 * 1024);
          at += data.length;
          if (data.length === 0) controller.close();
          else controller.enqueue(data);
        },
      });
      const decrypted = await decryptStream(input, { decryptionKeys: [key.privateArmored] });
      const check = createHash('sha256');
      for await (const part of decrypted.data) check.update(part);
      await decrypted.done();
      await cipher.close();
      assert.equal(check.digest('hex'), hash.digest('hex'));
    } finally {
      await fs.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test(`${kind}: a write that does not start where the file ends fails it, and so does every later write`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-encfile-'));
    const fs = new LocalFs({ root: dir, createRoot: true });
    try {
      const key = await generatePgpKey({ name: 'k', email: 'k@example.com' });
      const inner = await fs.open('/m.pgp', { read: false, write: true, create: true, truncate: true });
      const file = await start(inner, key.publicArmored);
      await file.write(0, Buffer.alloc(100, 1));
      await assert.rejects(file.write(200, Buffer.alloc(100, 2)), { code: 'ERR_UNSUPPORTED' });
      await assert.rejects(file.write(100, Buffer.alloc(100, 2)), { code: 'ERR_UNSUPPORTED' });
      await assert.rejects(file.read(), { code: 'ERR_UNSUPPORTED' });
      await assert.rejects(file.close(), { code: 'ERR_UNSUPPORTED' });
    } finally {
      await fs.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
