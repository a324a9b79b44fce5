import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withFields } from './with-fields.js';

test('withFields builds what the spread builds: the same fields in the same order, the extra winning', () => {
  const base = { at: 'now', user: 'alice', path: '/in/a.txt', node: undefined as string | undefined };
  const extra = { path: '/out/a.txt', size: 4096, error: undefined };
  const copy = withFields(base, extra);
  const spread = { ...base, ...extra };
  assert.deepEqual(copy, spread);
  assert.deepEqual(Object.keys(copy), Object.keys(spread));
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  // Neither input changes, and the copy is a new object.
  assert.deepEqual(base, { at: 'now', user: 'alice', path: '/in/a.txt', node: undefined });
  assert.deepEqual(extra, { path: '/out/a.txt', size: 4096, error: undefined });
  assert.notEqual(copy, base);
});
