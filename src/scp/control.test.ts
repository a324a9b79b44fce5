// Control-record parsing and formatting: bounds, bad modes and sizes, and names that could escape the target.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../errors.js';
import {
  formatDirectory,
  formatFile,
  formatTimes,
  isSafeEntryName,
  MAX_CONTROL_LINE,
  parseControlLine,
  printable,
} from './control.js';

describe('parseControlLine', () => {
  it('reads file, directory, end and times records', () => {
    assert.deepEqual(parseControlLine('C0644 12 hello.txt'), {
      type: 'file',
      mode: 0o644,
      size: 12,
      name: 'hello.txt',
    });
    assert.deepEqual(parseControlLine('D0755 0 reports'), {
      type: 'directory',
      mode: 0o755,
      name: 'reports',
    });
    assert.deepEqual(parseControlLine('E'), { type: 'end-directory' });
    assert.deepEqual(parseControlLine('T1700000000 0 1700000001 0'), {
      type: 'times',
      mtime: 1_700_000_000,
      atime: 1_700_000_001,
    });
  });

  it('keeps blanks inside names', () => {
    assert.equal(
      (parseControlLine('C0600 0 a name  with blanks ') as { name: string }).name,
      'a name  with blanks ',
    );
  });

  it('accepts the largest exact size and a zero size', () => {
    const max = Number.MAX_SAFE_INTEGER;
    assert.equal((parseControlLine(`C0644 ${max} big`) as { size: number }).size, max);
    assert.equal((parseControlLine('C0644 0 empty') as { size: number }).size, 0);
  });

  const refused: Array<[string, string]> = [
    ['', 'empty line'],
    ['X0644 1 a', 'unknown record'],
    ['\x00', 'NUL'],
    ['C644 1 a', 'three-digit mode'],
    ['C00644 1 a', 'five-digit mode'],
    ['C0648 1 a', 'non-octal mode'],
    ['C-644 1 a', 'signed mode'],
    ['C0644  1 a', 'double blank'],
    ['C0644 -1 a', 'negative size'],
    ['C0644 +1 a', 'signed size'],
    ['C0644 1e3 a', 'exponent size'],
    ['C0644 0x10 a', 'hex size'],
    ['C0644 9007199254740992 a', 'size past 2^53'],
    ['C0644 99999999999999999999 a', 'huge size'],
    ['C0644 1', 'missing name'],
    ['C0644 1 ', 'empty name'],
    ['C0644 1 .', 'dot'],
    ['C0644 1 ..', 'dot-dot'],
    ['C0644 1 ../etc/passwd', 'climbing path'],
    ['C0644 1 a/b', 'slash'],
    ['C0644 1 /etc/passwd', 'absolute path'],
    ['C0644 1 a\0b', 'NUL in name'],
    ['D0755 0 ..', 'dot-dot directory'],
    ['D0755 0 x/y', 'slash in directory'],
    ['E ', 'data after E'],
    ['T1 0 2', 'short times'],
    ['T1 0 2 0 3', 'long times'],
    ['T-1 0 2 0', 'negative time'],
    ['T1 1000000 2 0', 'usec out of range'],
    ['T999999999999999 0 1 0', 'time past year 9999'],
  ];
  for (const [line, why] of refused) {
    it(`refuses ${why}: ${JSON.stringify(line)}`, () => {
      assert.throws(() => parseControlLine(line), ProtocolError);
    });
  }

  it('refuses a line past the bound', () => {
    assert.throws(() => parseControlLine(`C0644 1 ${'a'.repeat(MAX_CONTROL_LINE)}`), /too long/);
  });
});

describe('isSafeEntryName', () => {
  it('allows one component only', () => {
    assert.equal(isSafeEntryName('report.csv'), true);
    assert.equal(isSafeEntryName('..hidden'), true);
    for (const name of ['', '.', '..', 'a/b', '/', 'a\0']) assert.equal(isSafeEntryName(name), false, name);
  });
});

describe('formatting', () => {
  it('writes records OpenSSH reads back', () => {
    assert.equal(formatFile(0o100644, 5, 'a.txt'), 'C0644 5 a.txt\n');
    assert.equal(formatDirectory(0o40755, 'dir'), 'D0755 0 dir\n');
    assert.equal(formatTimes(1_700_000_000.9, 5), 'T1700000000 0 5 0\n');
  });

  it('never passes set-id or sticky bits', () => {
    assert.equal(formatFile(0o104755, 1, 'x'), 'C0755 1 x\n');
  });

  it('round-trips through the parser', () => {
    assert.deepEqual(parseControlLine(formatFile(0o640, 42, 'x y').slice(0, -1)), {
      type: 'file',
      mode: 0o640,
      size: 42,
      name: 'x y',
    });
  });
});

describe('printable', () => {
  it('replaces control characters and bounds the length', () => {
    assert.equal(printable('a\nb\x1b[31m'), 'a?b?[31m');
    assert.equal(printable('x'.repeat(10), 4), 'xxxx...');
  });
});
