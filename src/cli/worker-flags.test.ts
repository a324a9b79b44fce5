// How `serve` starts its worker processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workerExecArgv } from './worker-flags.js';

test('workers forked by a compiled primary do not load tsx, whichever way it was given', () => {
  const argv = ['--import', 'tsx', '--import=tsx/esm', '--loader', 'tsx', '--enable-source-maps'];
  const flags = workerExecArgv(argv, true);
  assert.deepEqual(
    flags.filter((f) => !/^--(initial-old|max-semi)-space-size|^--expose-gc$/.test(f)),
    ['--enable-source-maps'],
  );
});

test('workers of a primary running the TypeScript sources keep tsx, which they need to load them', () => {
  const flags = workerExecArgv(['--import', 'tsx'], false);
  assert.deepEqual(flags.slice(0, 2), ['--import', 'tsx']);
});

test('workers get the old-generation floor, and the GC to run at idle, unless the operator chose a heap size', () => {
  const defaults = workerExecArgv([], true);
  assert.ok(defaults.some((f) => f.startsWith('--initial-old-space-size=')));
  assert.ok(defaults.includes('--expose-gc'));
  const flags = workerExecArgv(['--max-old-space-size=512'], true);
  assert.deepEqual(
    flags.filter((f) => f.includes('old-space-size') || f === '--expose-gc'),
    ['--max-old-space-size=512'],
  );
});

test('workers get the semi-space cap unless the operator chose a young-generation size', () => {
  assert.ok(workerExecArgv([], true).includes('--max-semi-space-size=4'));
  assert.deepEqual(workerExecArgv(['--max-semi-space-size=16', '--max-old-space-size=512'], true), [
    '--max-semi-space-size=16',
    '--max-old-space-size=512',
  ]);
});
