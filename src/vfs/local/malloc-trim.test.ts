// The confine addon's mallocTrim gives freed C-heap pages back to the system (what the idle GC relies on after
// transfers: their buffers, freed, otherwise stay resident in glibc's arenas).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { confine } from './confine.js';

const MB = 2 ** 20;
const rssAnon = () =>
  Number(/^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

test('mallocTrim returns the freed holes of the C heap', async () => {
  assert.equal(typeof confine.mallocTrim, 'function', 'the addon was built with mallocTrim (rebuild it)');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // 64 KiB buffers (below glibc's mmap threshold: they come from its heap), every 16th kept so the freed
  // ones are holes glibc cannot give back by shrinking the heap's top.
  let buffers: Buffer[] | undefined = Array.from({ length: 1600 }, () =>
    Buffer.allocUnsafeSlow(64 * 1024).fill(1),
  );
  const kept = buffers.filter((_, i) => i % 16 === 15);
  buffers = undefined;
  gc();
  // V8 frees dead ArrayBuffers' memory on a background thread.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = rssAnon();
  const released = confine.mallocTrim!();
  const after = rssAnon();
  assert.equal(released, true);
  assert.ok(before - after > 40 * MB, `anonymous RSS ${before / MB} → ${after / MB} MB`);
  assert.equal(kept.length, 100);
});
