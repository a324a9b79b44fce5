// Permission maps resolve by deepest directory, expand shorthands and fail closed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../errors.js';
import { CONCRETE_PERMISSIONS, PermissionPolicy } from './permissions.js';

describe('PermissionPolicy', () => {
  const policy = new PermissionPolicy({
    '/': ['list', 'download'],
    '/in': ['list', 'upload', 'delete'],
    '/in/archive/': ['list'],
    '/admin': ['*'],
    '/ops': ['rename'],
  });

  it('applies the deepest configured directory containing the path', () => {
    assert.deepEqual([...policy.at('/')].sort(), ['download', 'list']);
    assert.deepEqual([...policy.at('/elsewhere/deep')].sort(), ['download', 'list']);
    assert.ok(policy.has('upload', '/in'));
    assert.ok(policy.has('upload', '/in/sub/dir'));
    assert.ok(!policy.has('download', '/in'), 'a deeper entry replaces, it does not add');
    assert.deepEqual([...policy.at('/in/archive')], ['list'], 'trailing slash in a key is normalised');
    assert.deepEqual([...policy.at('/in/archive/2024')], ['list']);
  });

  it('matches whole components only', () => {
    assert.ok(!policy.has('upload', '/inbox'));
    assert.ok(!policy.has('upload', '/in-other'));
  });

  it('expands *, delete and rename', () => {
    assert.deepEqual([...policy.at('/admin')].sort(), [...CONCRETE_PERMISSIONS].sort());
    assert.ok(policy.has('delete_files', '/in') && policy.has('delete_dirs', '/in'));
    assert.ok(policy.has('rename_files', '/ops') && policy.has('rename_dirs', '/ops'));
    assert.ok(!policy.has('delete_files', '/ops'));
  });

  it('grants nothing where no entry applies', () => {
    const narrow = new PermissionPolicy({ '/only': ['*'] });
    assert.equal(narrow.at('/').size, 0);
    assert.equal(narrow.at('/other').size, 0);
    assert.equal(narrow.at('/only/x').size, CONCRETE_PERMISSIONS.length);
  });

  it('knows which directories carry their own rules', () => {
    assert.ok(policy.hasEntriesWithin('/in'));
    assert.ok(policy.hasEntriesWithin('/in/archive'));
    assert.ok(!policy.hasEntriesWithin('/in/other'));
    assert.ok(!policy.hasEntriesWithin('/data'));
  });

  it('refuses relative directories in the map', () => {
    assert.throws(() => new PermissionPolicy({ in: ['list'] }), ConfigError);
  });
});
