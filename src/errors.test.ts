// Backend errno errors become FerryErrors with stable codes and a reason that is never empty.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError, StorageError, toFerryError } from './errors.js';

const errno = (code: string, message = `${code}: no space left on device, write`): Error =>
  Object.assign(new Error(message), { code });

describe('toFerryError', () => {
  it('names a full disk, a quota and an I/O error with a fixed, path-free reason', () => {
    for (const [code, expected, message] of [
      ['ENOSPC', 'ERR_NO_SPACE', 'No space left on device'],
      ['EDQUOT', 'ERR_NO_SPACE', 'Disk quota exceeded'],
      ['EIO', 'ERR_IO', 'Input/output error'],
    ] as const) {
      const original = errno(code, '');
      const err = toFerryError(original);
      assert.ok(err instanceof StorageError);
      assert.equal(err.code, expected);
      assert.equal(err.message, message);
      assert.equal(err.errno, code);
      assert.equal(err.cause, original, 'the errno error stays reachable for the log');
    }
  });

  it('never gives an empty reason', () => {
    assert.equal(toFerryError(errno('EBUSY', '')).message, 'EBUSY');
    assert.equal(toFerryError(new Error('')).message, 'Unknown error');
    assert.equal(toFerryError('').message, 'Unknown error');
  });

  it('passes FerryErrors through', () => {
    const err = new FerryError('ERR_LIMIT', 'x');
    assert.equal(toFerryError(err), err);
  });
});
