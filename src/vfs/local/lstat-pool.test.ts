// LstatPool answers exactly like lstat(2), through its worker or, when that is unavailable, stuck or dead, without it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { LstatPool, type LstatResult } from './lstat-pool.js';

const NAMES = ['plain.txt', 'sub', 'link', 'missing', 'ünïcødé file'];

describe('LstatPool', () => {
  let dir: string;
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-lstat-'));
    base = `${dir}/`;
    await writeFile(join(dir, 'plain.txt'), 'twelve bytes');
    await mkdir(join(dir, 'sub'));
    await symlink('plain.txt', join(dir, 'link'));
    await writeFile(join(dir, 'ünïcødé file'), Buffer.alloc(1234));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function expected(): Promise<(LstatResult | null)[]> {
    return Promise.all(NAMES.map((name) => lstat(join(dir, name)).catch(() => null)));
  }

  function pick(results: (LstatResult | null)[]): unknown[] {
    return results.map((r) =>
      r === null
        ? null
        : {
            mode: r.mode,
            size: r.size,
            uid: r.uid,
            gid: r.gid,
            nlink: r.nlink,
            atimeMs: r.atimeMs,
            mtimeMs: r.mtimeMs,
          },
    );
  }

  async function until(condition: () => boolean): Promise<void> {
    for (let waited = 0; !condition(); waited += 20) {
      assert.ok(waited < 20_000, 'condition not reached in 20 s');
      await sleep(20);
    }
  }

  it('answers through the worker once it is ready, as lstat does, null for a missing entry', async () => {
    const pool = new LstatPool();
    // The first batch goes the direct way and starts the worker.
    assert.deepEqual(pick(await pool.lstatMany(base, NAMES)), pick(await expected()));
    await until(() => pool.usingWorker);
    const results = await pool.lstatMany(base, NAMES);
    await pool.close();
    assert.deepEqual(pick(results), pick(await expected()));
    assert.equal(results[3], null);
    assert.equal(results[1]!.mode & 0o170000, 0o040000);
    assert.equal(results[2]!.mode & 0o170000, 0o120000, 'a symlink is reported, not followed');
  });

  it('keeps answering when the worker cannot start', async () => {
    const pool = new LstatPool('throw new Error("no worker here")');
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      assert.deepEqual(pick(await pool.lstatMany(base, NAMES)), pick(await expected()));
      await until(() => warnings.length > 0);
      assert.match(warnings[0]!, /lstat worker unavailable/);
      assert.deepEqual(pick(await pool.lstatMany(base, NAMES)), pick(await expected()));
      assert.equal(pool.usingWorker, false);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('redoes the batches of a worker that dies', async () => {
    const dies = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => process.exit(3));
parentPort.postMessage({ id: 0 });`;
    const pool = new LstatPool(dies);
    await pool.lstatMany(base, NAMES);
    await until(() => pool.usingWorker);
    assert.deepEqual(pick(await pool.lstatMany(base, NAMES)), pick(await expected()));
    await pool.close();
  });

  it('bypasses a worker stuck on one batch, so other listings go on', async () => {
    const hangs = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => {});
parentPort.postMessage({ id: 0 });`;
    const pool = new LstatPool(hangs);
    await pool.lstatMany(base, NAMES);
    await until(() => pool.usingWorker);
    const stuck = pool.lstatMany(base, NAMES);
    let settled = false;
    void stuck.then(() => {
      settled = true;
    });
    await until(() => !pool.usingWorker);
    assert.deepEqual(pick(await pool.lstatMany(base, NAMES)), pick(await expected()));
    assert.equal(settled, false, 'the stuck batch is still waiting for its worker');
    await pool.close();
    assert.deepEqual(pick(await stuck), pick(await expected()), 'closing redoes the stuck batch');
  });

  it('does not keep the process alive once idle', async () => {
    const script = `import { LstatPool } from ${JSON.stringify(new URL('./lstat-pool.ts', import.meta.url).href)};
const pool = new LstatPool();
await pool.lstatMany('/', ['tmp']);
while (!pool.usingWorker) await new Promise((r) => setTimeout(r, 20));
console.log('worker ready');`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { timeout: 20_000 },
    );
    assert.equal(stdout.trim(), 'worker ready');
  });
});
