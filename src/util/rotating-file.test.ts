import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RotatingFile } from './rotating-file.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-rotate-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const line = (i: number, who = 'p') => `${JSON.stringify({ who, i, pad: 'x'.repeat(80) })}\n`;

test('the file is rotated by size into FILE.1 … FILE.N and no line is lost or split', async () => {
  const path = join(dir, 'one.log');
  const file = new RotatingFile(path, { maxBytes: 4096, keep: 3 });
  for (let i = 0; i < 200; i++) file.write(line(i));
  file.close();
  const names = (await readdir(dir)).filter((n) => n.startsWith('one.log')).sort();
  assert.deepEqual(names, ['one.log', 'one.log.1', 'one.log.2', 'one.log.3']);
  for (const name of names) assert.ok((await stat(join(dir, name))).size <= 4096, name);
  // The newest lines are in FILE, the ones before in FILE.1, and so on; every line is whole JSON.
  const seen: number[] = [];
  for (const name of ['one.log.3', 'one.log.2', 'one.log.1', 'one.log']) {
    for (const text of (await readFile(join(dir, name), 'utf8')).trim().split('\n'))
      seen.push(JSON.parse(text).i);
  }
  assert.equal(seen.at(-1), 199);
  assert.deepEqual(
    seen,
    Array.from({ length: seen.length }, (_, k) => 200 - seen.length + k),
    'contiguous, in order',
  );
  assert.equal((await stat(path)).mode & 0o777, 0o640);
});

test('without a limit the file only grows', async () => {
  const path = join(dir, 'unlimited.log');
  const file = new RotatingFile(path, { maxBytes: 0 });
  for (let i = 0; i < 100; i++) file.write(line(i));
  file.close();
  assert.deepEqual(
    (await readdir(dir)).filter((n) => n.startsWith('unlimited.log')),
    ['unlimited.log'],
  );
});

test('several processes appending to one file rotate it together without losing or splitting lines', async () => {
  const path = join(dir, 'shared.log');
  const child = join(import.meta.dirname, 'rotating-file-fixture.ts');
  const procs = ['a', 'b', 'c'].map(
    (who) =>
      new Promise<number | null>((resolve) => {
        fork(child, [path, who, '400'], { execArgv: ['--import', 'tsx'] }).on('exit', resolve);
      }),
  );
  assert.deepEqual(await Promise.all(procs), [0, 0, 0]);
  const names = (await readdir(dir)).filter((n) => n.startsWith('shared.log'));
  assert.ok(!names.includes('shared.log.rotating'), 'the lock is released');
  const counts: Record<string, Set<number>> = { a: new Set(), b: new Set(), c: new Set() };
  for (const name of names) {
    for (const text of (await readFile(join(dir, name), 'utf8')).trim().split('\n')) {
      if (text === '') continue;
      const { who, i } = JSON.parse(text);
      counts[who]!.add(i);
    }
  }
  // keep=50 is enough to hold everything, so every line of every process must be somewhere.
  for (const who of ['a', 'b', 'c']) assert.equal(counts[who]!.size, 400, who);
});
