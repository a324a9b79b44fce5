// Error texts and scp warning/fatal framing: OpenSSH words out, backend details never.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError, NotFoundError, PermissionDeniedError } from '../errors.js';
import { errorText, fatalLine, pathMessage, warningLine } from './messages.js';

describe('errorText', () => {
  it('speaks like OpenSSH', () => {
    assert.equal(errorText(new NotFoundError()), 'No such file or directory');
    assert.equal(errorText(new PermissionDeniedError()), 'Permission denied');
    assert.equal(errorText(new FerryError('ERR_IS_A_DIRECTORY', 'x')), 'Is a directory');
    assert.equal(errorText(new FerryError('ERR_NOT_A_DIRECTORY', 'x')), 'Not a directory');
    assert.equal(errorText(new FerryError('ERR_IO', 'x')), 'Failure');
  });

  it('maps Node errno errors and never echoes their messages', () => {
    const err = Object.assign(new Error("EACCES: open '/srv/homes/bob/secret'"), { code: 'EACCES' });
    assert.equal(errorText(err), 'Permission denied');
    assert.equal(errorText(new Error('/srv/internal/path exploded')), 'Failure');
  });
});

describe('framing', () => {
  it('frames warnings and fatals with one line each', () => {
    assert.deepEqual(
      warningLine(pathMessage('a', 'Permission denied')),
      Buffer.from('\x01scp: a: Permission denied\n'),
    );
    assert.deepEqual(
      fatalLine('protocol error: bad mode'),
      Buffer.from('\x02scp: protocol error: bad mode\n'),
    );
  });

  it('cannot be split into two lines by a hostile name', () => {
    const line = warningLine(pathMessage('a\n\x02scp: forged', 'Failure')).toString();
    assert.equal(line.indexOf('\n'), line.length - 1);
    assert.equal(line.slice(1).includes('\x02'), false);
  });
});
