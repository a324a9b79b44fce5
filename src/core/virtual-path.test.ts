// Virtual path resolution never climbs above the user's '/' and rejects hostile input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidPathError } from '../errors.js';
import {
  hasReservedComponent,
  partialNameFor,
  resolveVirtualPath,
  virtualBasename,
  virtualDirname,
} from './virtual-path.js';

describe('resolveVirtualPath', () => {
  const cases: [string, string][] = [
    ['', '/'],
    ['.', '/'],
    ['/', '/'],
    ['..', '/'],
    ['../../etc/passwd', '/etc/passwd'],
    ['/../..', '/'],
    ['/../../../../etc/shadow', '/etc/shadow'],
    ['a/b/../../../../c', '/c'],
    ['a//b/./c/', '/a/b/c'],
    ['///a///', '/a'],
    ['~', '/'],
    ['~/in/x.csv', '/in/x.csv'],
    ['a/~/b', '/a/~/b'],
    ['~alice', '/~alice'],
    ['in/./../out/.', '/out'],
    ['.../x', '/.../x'],
    ['a\\..\\b', '/a\\..\\b'],
  ];
  for (const [input, expected] of cases) {
    it(`resolves ${JSON.stringify(input)} to ${expected}`, () => {
      assert.equal(resolveVirtualPath(input), expected);
    });
  }

  it('rejects NUL bytes anywhere', () => {
    for (const input of ['a\0b', '/x\0', '\0', '/in/../\0/etc']) {
      assert.throws(() => resolveVirtualPath(input), InvalidPathError);
    }
  });

  it('rejects overlong paths and components, in bytes', () => {
    assert.equal(resolveVirtualPath(`/${'a'.repeat(255)}`), `/${'a'.repeat(255)}`);
    assert.throws(() => resolveVirtualPath(`/${'a'.repeat(256)}`), InvalidPathError);
    // 128 two-byte characters are 256 bytes.
    assert.throws(() => resolveVirtualPath(`/${'é'.repeat(128)}`), InvalidPathError);
    assert.throws(() => resolveVirtualPath('/a'.repeat(3000)), InvalidPathError);
    assert.throws(() => resolveVirtualPath('/abc/def', { maxPathLength: 5, maxComponentLength: 255 }));
  });
});

describe('path helpers', () => {
  it('splits virtual paths', () => {
    assert.equal(virtualDirname('/'), '/');
    assert.equal(virtualDirname('/a'), '/');
    assert.equal(virtualDirname('/a/b'), '/a');
    assert.equal(virtualBasename('/a/b'), 'b');
  });

  it('names partials deterministically and within the component limit', () => {
    assert.equal(partialNameFor('report.csv'), '.ferry-part.report.csv');
    const long = 'x'.repeat(250);
    const name = partialNameFor(long);
    assert.ok(Buffer.byteLength(name) <= 255);
    assert.equal(name, partialNameFor(long));
    assert.notEqual(name, partialNameFor('y'.repeat(250)));
    assert.equal(hasReservedComponent('/in/.ferry-part.x'), true);
    assert.equal(hasReservedComponent('/in/x.ferry-part.'), false);
  });
});
