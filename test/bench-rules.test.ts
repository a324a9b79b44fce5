// The rules row's plan: both kinds of upload share every place in a session, and only one kind's names match the rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockFires, blockNames, RULE_PATH } from '../bench/rules.js';
import { pathGlob } from '../src/automation/match.js';

test('blocks take turns A B B A, each kind as often first, and as often in every place over two sessions', () => {
  const blocks = 20;
  for (const run of [0, 1]) {
    const order = Array.from({ length: blocks }, (_, b) => blockFires(run, b));
    assert.equal(order.filter(Boolean).length, blocks / 2, `run ${run}: half the blocks fire`);
    for (let b = 0; b < blocks; b += 4)
      assert.deepEqual(order.slice(b, b + 4), [order[b], !order[b], !order[b], order[b]]);
  }
  for (let b = 0; b < blocks; b++) assert.notEqual(blockFires(0, b), blockFires(1, b), `block ${b}`);
});

test('the firing names match the rules’ path and the calm ones, in the same folder, do not', () => {
  const names = blockNames(0, 40);
  assert.equal(names.length, 40);
  const glob = pathGlob(RULE_PATH);
  const folder = (path: string) => path.slice(0, path.lastIndexOf('/'));
  for (const { path, fires } of names) {
    assert.equal(glob.test(path), fires, path);
    assert.equal(folder(path), folder(RULE_PATH));
  }
  assert.equal(new Set(names.map((n) => n.path)).size, names.length, 'every upload has its own name');
});
