// Every FerryError code maps to the status and wording OpenSSH's sftp-server would send; messages never leak.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FerryError,
  type FerryErrorCode,
  NotFoundError,
  PermissionDeniedError,
  ProtocolError,
} from '../errors.js';
import { SftpStatusError, statusFromError } from './status.js';
import { FX } from './wire/constants.js';

describe('statusFromError', () => {
  const cases: ReadonlyArray<[FerryErrorCode, number, string]> = [
    ['ERR_NOT_FOUND', FX.NO_SUCH_FILE, 'No such file'],
    ['ERR_NOT_A_DIRECTORY', FX.NO_SUCH_FILE, 'No such file'],
    ['ERR_INVALID_PATH', FX.NO_SUCH_FILE, 'No such file'],
    ['ERR_PERMISSION_DENIED', FX.PERMISSION_DENIED, 'Permission denied'],
    ['ERR_ALREADY_EXISTS', FX.FAILURE, 'Failure'],
    ['ERR_IS_A_DIRECTORY', FX.FAILURE, 'Failure'],
    ['ERR_DIRECTORY_NOT_EMPTY', FX.FAILURE, 'Failure'],
    ['ERR_INVALID_ARGUMENT', FX.BAD_MESSAGE, 'Bad message'],
    ['ERR_PROTOCOL', FX.BAD_MESSAGE, 'Bad message'],
    ['ERR_UNSUPPORTED', FX.OP_UNSUPPORTED, 'Operation unsupported'],
    ['ERR_NO_SPACE', FX.FAILURE, 'No space left (quota exceeded)'],
    ['ERR_LIMIT', FX.FAILURE, 'Limit exceeded'],
    ['ERR_CONFIG', FX.FAILURE, 'Failure'],
    ['ERR_IO', FX.FAILURE, 'Failure'],
    ['ERR_AUDIT_UNAVAILABLE', FX.FAILURE, 'Refused: the audit trail cannot be written'],
  ];
  for (const [code, status, message] of cases) {
    it(`maps ${code} to ${status} "${message}"`, () => {
      assert.deepEqual(statusFromError(new FerryError(code, '/srv/data/homes/alice/secret path')), {
        code: status,
        message,
      });
    });
  }

  it('maps errno errors from the backend like sftp-server does', () => {
    const errno = (code: string): Error => Object.assign(new Error(`${code}: /real/path`), { code });
    assert.equal(statusFromError(errno('ENOENT')).code, FX.NO_SUCH_FILE);
    assert.equal(statusFromError(errno('EACCES')).code, FX.PERMISSION_DENIED);
    assert.equal(statusFromError(errno('EEXIST')).code, FX.FAILURE);
    assert.equal(statusFromError(errno('EINVAL')).code, FX.BAD_MESSAGE);
    assert.deepEqual(statusFromError(errno('EIO')), { code: FX.FAILURE, message: 'Input/output error' });
  });

  it('tells a full disk, a quota and an I/O error apart, without the path', () => {
    const errno = (code: string): Error =>
      Object.assign(new Error(`${code}: write '/srv/homes/alice/.ferry-part.x'`), { code });
    assert.deepEqual(statusFromError(errno('ENOSPC')), {
      code: FX.FAILURE,
      message: 'No space left on device',
    });
    assert.deepEqual(statusFromError(errno('EDQUOT')), { code: FX.FAILURE, message: 'Disk quota exceeded' });
    assert.deepEqual(statusFromError(errno('EIO')), { code: FX.FAILURE, message: 'Input/output error' });
  });

  it('maps subclasses and non-errors', () => {
    assert.equal(statusFromError(new NotFoundError()).code, FX.NO_SUCH_FILE);
    assert.equal(statusFromError(new PermissionDeniedError()).code, FX.PERMISSION_DENIED);
    assert.equal(statusFromError(new ProtocolError('x')).code, FX.BAD_MESSAGE);
    assert.deepEqual(statusFromError(new TypeError('bug')), { code: FX.FAILURE, message: 'Failure' });
    assert.deepEqual(statusFromError('a string'), { code: FX.FAILURE, message: 'Failure' });
  });

  it('keeps a status chosen where the failure happened', () => {
    assert.deepEqual(statusFromError(new SftpStatusError({ code: FX.FAILURE, message: 'Bad handle' })), {
      code: FX.FAILURE,
      message: 'Bad handle',
    });
  });
});
