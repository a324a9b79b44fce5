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

  it('maps the answer of a lookup (ENOENT, EEXIST) without a stack trace, and other failures with one', () => {
    const limit = Error.stackTraceLimit;
    const missing = errno('ENOENT', "ENOENT: no such file or directory, lstat '/in/new.bin'");
    const answer = toFerryError(missing);
    assert.equal(answer.code, 'ERR_NOT_FOUND');
    assert.equal(answer.message, missing.message);
    assert.equal(answer.cause, missing);
    assert.equal(answer.stack, `FerryError: ${missing.message}`, 'no frames captured');
    assert.equal(toFerryError(errno('EEXIST', 'EEXIST: file already exists')).code, 'ERR_ALREADY_EXISTS');
    assert.equal(Error.stackTraceLimit, limit, 'the limit is restored');
    const refused = toFerryError(errno('EACCES', 'EACCES: permission denied'));
    assert.match(refused.stack ?? '', /\n\s+at /, 'a failure keeps its frames');
  });

  it('passes FerryErrors through', () => {
    const err = new FerryError('ERR_LIMIT', 'x');
    assert.equal(toFerryError(err), err);
  });
});
