// `rekeyTree` moves every container to a new key-encryption key without touching contents, times or plain files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FerryError } from '../../errors.js';
import { HEADER_SIZE } from './container.js';
import { EncryptedFs } from './encrypted-fs.js';
import { encryptedFixture, newMasterKey } from './encrypted-fs-fixture.js';
import { rekeyTree } from './rekey.js';
import { StorageKeyRing, storageKekOf } from './storage-keys.js';

async function readAll(fs: EncryptedFs, path: string): Promise<Buffer> {
  const file = await fs.open(path, { read: true, write: false });
  try {
    return await file.read(0, 1 << 24);
  } finally {
    await file.close();
  }
}

test('rekey re-wraps data keys under the new key: files read as before, the old key no longer opens them', async (t) => {
  const fx = await encryptedFixture();
  t.after(() => fx.cleanup());
  const data = randomBytes(200_000);
  await mkdir(join(fx.root, 'alice', 'in'), { recursive: true });
  const path = join(fx.root, 'alice', 'in', 'report.bin');
  const file = await fx.fs.open(path, { read: false, write: true, create: true });
  await file.write(0, data);
  await file.close();
  await utimes(path, 1_000_000, 1_500_000);
  await writeFile(
    join(fx.root, 'alice', 'plain.txt'),
    'stored before encryption was on, long enough to be checked',
  );
  const before = await readFile(path);

  const oldKek = storageKekOf(fx.master);
  const newKek = storageKekOf(await newMasterKey(fx.root, 'new.key'));
  const report = await rekeyTree(fx.raw, join(fx.root, 'alice'), new StorageKeyRing(newKek, [oldKek]));
  assert.deepEqual(report, { rewrapped: 1, alreadyCurrent: 0, plain: 1, failed: [] });

  const after = await readFile(path);
  assert.ok(after.subarray(HEADER_SIZE).equals(before.subarray(HEADER_SIZE)), 'contents are not rewritten');
  assert.ok(!after.subarray(0, HEADER_SIZE).equals(before.subarray(0, HEADER_SIZE)), 'the header is');
  assert.equal(Math.floor((await stat(path)).mtimeMs / 1000), 1_500_000, 'times are kept');

  const withNew = new EncryptedFs(fx.raw, { keys: new StorageKeyRing(newKek) });
  assert.ok((await readAll(withNew, path)).equals(data));
  await assert.rejects(
    fx.fs.open(path, { read: true, write: false }),
    (err: unknown) => err instanceof FerryError && err.code === 'ERR_IO' && /does not hold/.test(err.message),
  );

  const again = await rekeyTree(fx.raw, join(fx.root, 'alice'), new StorageKeyRing(newKek, [oldKek]));
  assert.deepEqual(again, { rewrapped: 0, alreadyCurrent: 1, plain: 1, failed: [] });
  const stranger = await rekeyTree(fx.raw, join(fx.root, 'alice'), new StorageKeyRing(oldKek));
  assert.equal(stranger.failed.length, 1, 'a file under a key the ring lacks is reported, not skipped');
  assert.match(stranger.failed[0]!.message, /report\.bin/);
});
