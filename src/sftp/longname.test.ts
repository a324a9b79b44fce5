// Longnames must match OpenSSH's ls_file() byte for byte: clients show them as `ls -l` output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileStat } from '../core/types.js';
import { formatListingTime, formatLongname, formatMode } from './longname.js';

function stat(overrides: Partial<FileStat>): FileStat {
  return {
    kind: 'file',
    mode: 0o100644,
    size: 1234,
    uid: 1000,
    gid: 1000,
    owner: 'alice',
    group: 'alice',
    nlink: 1,
    atime: 0,
    mtime: 0,
    ...overrides,
  };
}

/** Seconds for a local wall-clock time, so the tests hold in any server time zone. */
const local = (y: number, mo: number, d: number, h = 0, mi = 0): number =>
  new Date(y, mo, d, h, mi).getTime() / 1000;

describe('formatLongname', () => {
  it('formats a recent file like `ls -l` with time of day', () => {
    const now = local(2024, 10, 30, 9, 0);
    const line = formatLongname('name', stat({ mtime: local(2024, 10, 23, 12, 0) }), now);
    assert.equal(line, '-rw-r--r--    1 alice    alice        1234 Nov 23 12:00 name');
  });

  it('shows the year for files older than six months, with two spaces', () => {
    const now = local(2024, 10, 30);
    const line = formatLongname('old', stat({ mtime: local(2023, 0, 5, 8, 30), size: 5 }), now);
    assert.equal(line, '-rw-r--r--    1 alice    alice           5 Jan  5  2023 old');
  });

  it('shows the year for files dated in the future', () => {
    const now = local(2024, 0, 1);
    assert.equal(formatListingTime(local(2024, 5, 1, 10, 0), now), 'Jun  1  2024');
  });

  it('pads day numbers with a space and keeps long names unpadded', () => {
    const now = local(2024, 2, 10);
    const line = formatLongname(
      'dir',
      stat({
        mode: 0o40755,
        nlink: 12,
        owner: 'averylongowner',
        group: 'g',
        size: 4096,
        mtime: local(2024, 2, 3, 7, 5),
      }),
      now,
    );
    assert.equal(line, 'drwxr-xr-x   12 averylongowner g            4096 Mar  3 07:05 dir');
  });

  it('falls back to numeric ids when names are unknown', () => {
    const now = local(2024, 2, 10);
    const line = formatLongname(
      'x',
      stat({ owner: '', group: '', uid: 501, gid: 20, mtime: local(2024, 2, 1) }),
      now,
    );
    assert.equal(line, '-rw-r--r--    1 501      20           1234 Mar  1 00:00 x');
  });
});

describe('formatMode', () => {
  it('renders every file type', () => {
    assert.equal(formatMode(0o120777), 'lrwxrwxrwx');
    assert.equal(formatMode(0o140755), 'srwxr-xr-x');
    assert.equal(formatMode(0o010644), 'prw-r--r--');
    assert.equal(formatMode(0o020620), 'crw--w----');
    assert.equal(formatMode(0o060660), 'brw-rw----');
    assert.equal(formatMode(0o000644), '?rw-r--r--');
  });

  it('renders setuid, setgid and sticky bits with and without execute', () => {
    assert.equal(formatMode(0o104755), '-rwsr-xr-x');
    assert.equal(formatMode(0o104644), '-rwSr--r--');
    assert.equal(formatMode(0o102755), '-rwxr-sr-x');
    assert.equal(formatMode(0o102745), '-rwxr-Sr-x');
    assert.equal(formatMode(0o41777), 'drwxrwxrwt');
    assert.equal(formatMode(0o41776), 'drwxrwxrwT');
  });
});
