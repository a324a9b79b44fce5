// The hash command line parser (what is served and what is refused) and coreutils' output line.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HASH_COMMANDS, hashLine, MAX_HASH_FILES, parseHashCommand } from './hash-command.js';

describe('parseHashCommand', () => {
  test('each coreutils name maps to its algorithm', () => {
    for (const [name, algorithm] of Object.entries(HASH_COMMANDS)) {
      assert.deepEqual(parseHashCommand(`${name} a`), { name, algorithm, files: ['a'] });
    }
  });

  test('quotes, backslashes, ~ and -- are undone like a shell would; no operand means stdin', () => {
    assert.deepEqual(parseHashCommand("sha256sum 'a b' c\\ d ~/e")?.files, ['a b', 'c d', '/e']);
    assert.deepEqual(parseHashCommand('sha256sum -- a -- -f')?.files, ['a', '--', '-f']);
    assert.deepEqual(parseHashCommand('sha256sum -- -f')?.files, ['-f']);
    assert.deepEqual(parseHashCommand('md5sum')?.files, []);
    assert.deepEqual(parseHashCommand('md5sum -')?.files, ['-']);
  });

  test('anything else is refused', () => {
    for (const line of [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: rclone's shell probe, literally
      'echo ${ShellId}%ComSpec%',
      'md5 -r',
      'rclone md5sum',
      'sha256sum -c sums',
      'sha256sum --check sums',
      'sha256sum a; id',
      'sha256sum $(id)',
      'sha256sum `id`',
      'sha256sum a | sh',
      'sha256sum a > b',
      "sha256sum 'unclosed",
      'sha256sum ""',
      'toString a',
      '__proto__ a',
      `sha256sum ${'a '.repeat(MAX_HASH_FILES + 1)}`,
      `sha256sum ${'a'.repeat(9000)}`,
    ]) {
      assert.equal(parseHashCommand(line), null, line);
    }
  });
});

describe('hashLine', () => {
  test('plain names as coreutils prints them, odd ones escaped with a leading backslash', () => {
    const digest = Buffer.from([0xab, 0x01]);
    assert.equal(hashLine(digest, 'a b'), 'ab01  a b\n');
    assert.equal(hashLine(digest, 'a\\b'), '\\ab01  a\\\\b\n');
  });
});
