// A serving process keeps the ring of an upload's hashing thread for the next upload (native/aead/src/ring.c) and
// gives it back once idle: an OpenSSH upload past the first MiB, then the idle release's debug line.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveOneUserWithIdleGc } from './helpers/ferry-serve.js';
import { sftpBatch } from './helpers/openssh.js';

const MIB = 1024 * 1024;
const RELEASED = /\{[^\n]*"idle: kept rings and packet buffers given back"[^\n]*\}/;

test('a single process gives back the rings its uploads kept once it is idle', {
  timeout: 120_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-idle-rings-'));
  const children: ChildProcess[] = [];
  try {
    // One process with the workers' heap flags, so it runs the idle GC (and its release) itself.
    const { serving, port, key } = await serveOneUserWithIdleGc(dir, 'ringer', children);
    const source = join(dir, 'four.bin');
    await writeFile(source, Buffer.alloc(4 * MIB, 7));
    assert.doesNotMatch(serving.stderr(), RELEASED, 'no upload yet, no ring kept');
    const put = await sftpBatch({
      port,
      user: 'ringer',
      identity: key.privatePath,
      batch: `put ${source} /a.bin\nput ${source} /b.bin\n`,
    });
    assert.equal(put.code, 0, put.stderr);
    const until = Date.now() + 60_000;
    while (!RELEASED.test(serving.stderr()) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 200));
    const line = serving.stderr().match(RELEASED);
    assert.ok(line, `no idle ring release in 60 s:\n${serving.stderr()}`);
    const { ringMB } = JSON.parse(line[0]) as { ringMB: number };
    // Two uploads one after the other: the second took the first's ring, so one ring is kept, not two.
    assert.equal(ringMB, 2, `one 2 MiB hashing ring kept between the uploads (${ringMB} MiB)`);
    await serving.stop();
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
