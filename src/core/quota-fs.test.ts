// QuotaFs on the real local backend: what each call charges or gives back, refusals that change nothing, and a
// scan agreeing with the running count.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { LocalFs } from '../vfs/local/local-fs.js';
import { QuotaFs, type QuotaLedger } from './quota-fs.js';
import { scanUsage } from './quota-scan.js';

/** The store's rule in memory: positive changes refused past a limit, negative ones floored at 0. */
class MemoryLedger implements QuotaLedger {
  bytes = 0;
  files = 0;
  constructor(
    readonly limitBytes: number,
    readonly limitFiles: number,
  ) {}
  async change(bytes: number, files: number): Promise<boolean> {
    if (bytes > 0 && this.limitBytes > 0 && this.bytes + bytes > this.limitBytes) return false;
    if (files > 0 && this.limitFiles > 0 && this.files + files > this.limitFiles) return false;
    this.bytes = Math.max(0, this.bytes + bytes);
    this.files = Math.max(0, this.files + files);
    return true;
  }
}

const WRITE = { read: false, write: true, create: true, truncate: true } as const;

describe('QuotaFs', () => {
  let root: string;
  let inner: LocalFs;
  let ledger: MemoryLedger;
  let fs: QuotaFs;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ferry-quota-fs-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    for (const name of await readdir(root)) await rm(join(root, name), { recursive: true, force: true });
    inner = new LocalFs({ root, createRoot: true });
    ledger = new MemoryLedger(1000, 3);
    fs = new QuotaFs(inner, ledger, 'test may store 1000 bytes and 3 files');
  });
  const counted = () => ({ bytes: ledger.bytes, files: ledger.files });

  test('writes charge what they extend; the write past the limit fails and charges nothing', async () => {
    const f = await fs.open('/a', WRITE);
    await f.write(0, Buffer.alloc(600));
    await f.write(100, Buffer.alloc(100)); // inside the file: nothing more
    assert.deepEqual(counted(), { bytes: 600, files: 1 });
    await assert.rejects(f.write(600, Buffer.alloc(401)), {
      code: 'ERR_QUOTA_EXCEEDED',
      message: 'quota exceeded: test may store 1000 bytes and 3 files',
    });
    assert.deepEqual(counted(), { bytes: 600, files: 1 });
    await f.write(600, Buffer.alloc(400));
    await f.close();
    assert.deepEqual(counted(), await scanUsage(inner));
  });

  test('a sparse write and a resize are charged by the size they claim', async () => {
    const f = await fs.open('/s', WRITE);
    await assert.rejects(f.write(10_000, Buffer.alloc(1)), { code: 'ERR_QUOTA_EXCEEDED' });
    await assert.rejects(f.truncate(5000), { code: 'ERR_QUOTA_EXCEEDED' });
    await f.truncate(800);
    assert.deepEqual(counted(), { bytes: 800, files: 1 });
    await f.truncate(100);
    await f.close();
    assert.deepEqual(counted(), { bytes: 100, files: 1 });
    assert.deepEqual(counted(), await scanUsage(inner));
  });

  test('truncating open, unlink, rename over a file and hard links keep the count equal to a scan', async () => {
    const put = async (path: string, size: number) => {
      const f = await fs.open(path, WRITE);
      await f.write(0, Buffer.alloc(size));
      await f.close();
    };
    await put('/a', 300);
    await put('/a', 200); // overwrite
    await put('/b', 100);
    assert.deepEqual(counted(), { bytes: 300, files: 2 });
    await fs.rename('/b', '/a');
    assert.deepEqual(counted(), { bytes: 100, files: 1 });
    await fs.rename('/a', '/a');
    assert.deepEqual(counted(), { bytes: 100, files: 1 });
    await fs.link('/a', '/hard');
    assert.deepEqual(counted(), { bytes: 200, files: 2 });
    assert.deepEqual(counted(), await scanUsage(inner));
    await fs.unlink('/hard');
    await fs.unlink('/a');
    assert.deepEqual(counted(), { bytes: 0, files: 0 });
  });

  test('the file past the file limit is refused before it exists; a failed open gives its file back', async () => {
    for (const name of ['/1', '/2', '/3']) await (await fs.open(name, WRITE)).close();
    await assert.rejects(fs.open('/4', WRITE), { code: 'ERR_QUOTA_EXCEEDED' });
    assert.deepEqual(await readdir(root).then((n) => n.sort()), ['1', '2', '3']);
    await fs.unlink('/3');
    await assert.rejects(fs.open('/missing-dir/x', WRITE));
    assert.deepEqual(counted(), { bytes: 0, files: 2 });
    await assert.rejects(fs.link('/1', '/2'), { code: 'ERR_ALREADY_EXISTS' });
    assert.deepEqual(counted(), { bytes: 0, files: 2 });
  });
});
