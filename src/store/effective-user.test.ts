// Effective settings: the user's own, else the primary group's, else the secondary groups' in order; folder entries
// merged (the user's entry wins); home templates fail closed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { effectiveUser, expandHomeTemplate, homeTemplateProblem } from './effective-user.js';
import type { FolderMapping, GroupRecord, UserRecord } from './types.js';

const at = new Date('2026-11-30T00:00:00Z');

function user(over: Partial<UserRecord> = {}): UserRecord {
  return {
    id: 1,
    name: 'pat',
    passwordHash: null,
    homeDir: null,
    requiredMethods: [],
    disabled: false,
    permissions: {},
    allowedSources: [],
    publicKeys: [],
    pgpPolicies: {},
    quota: { limitBytes: 0, limitFiles: 0, usedBytes: 5, usedFiles: 1 },
    uploadRate: 0,
    downloadRate: 0,
    protocols: [],
    createdAt: at,
    updatedAt: at,
    ...over,
  };
}

function group(name: string, over: Partial<GroupRecord> = {}): GroupRecord {
  return {
    id: name.length,
    name,
    description: '',
    homeTemplate: null,
    permissions: {},
    protocols: [],
    allowedSources: [],
    pgpPolicies: {},
    quotaBytes: 0,
    quotaFiles: 0,
    uploadRate: 0,
    downloadRate: 0,
    transferQuotas: {},
    createdAt: at,
    updatedAt: at,
    ...over,
  };
}

test('the user overrides the primary group, which overrides the secondary groups in order', () => {
  const primary = group('primary', { uploadRate: 100, protocols: ['sftp'] });
  const second = group('second', { uploadRate: 200, downloadRate: 300, quotaBytes: 1000 });
  const third = group('third', {
    downloadRate: 400,
    quotaBytes: 2000,
    quotaFiles: 9,
    allowedSources: ['10.0.0.0/8'],
  });
  const { user: e, sources } = effectiveUser(
    user({ quota: { limitBytes: 0, limitFiles: 3, usedBytes: 5, usedFiles: 1 } }),
    {
      primary,
      secondary: [second, third],
    },
  );
  assert.equal(e.uploadRate, 100);
  assert.equal(sources.uploadRate, 'group primary');
  assert.equal(e.downloadRate, 300);
  assert.equal(sources.downloadRate, 'group second');
  assert.deepEqual(e.quota, { limitBytes: 1000, limitFiles: 3, usedBytes: 5, usedFiles: 1 });
  assert.equal(sources.quotaFiles, 'user');
  assert.deepEqual(e.protocols, ['sftp']);
  assert.deepEqual(e.allowedSources, ['10.0.0.0/8']);
  assert.equal(sources.allowedSources, 'group third');
  const own = effectiveUser(user({ uploadRate: 7, protocols: ['scp'] }), { primary, secondary: [] });
  assert.equal(own.user.uploadRate, 7);
  assert.deepEqual(own.user.protocols, ['scp']);
  assert.equal(own.sources.protocols, 'user');
});

test("folder permissions: the user's entry wins, else the first group naming the folder; the root defaults to *", () => {
  const primary = group('primary', { permissions: { '/in': ['list', 'upload'] } });
  const second = group('second', {
    permissions: { '/in': ['*'], '/out': ['list', 'download'], '/': ['list'] },
  });
  const { user: e, sources } = effectiveUser(user({ permissions: { '/out': ['list'] } }), {
    primary,
    secondary: [second],
  });
  assert.deepEqual(e.permissions, { '/': ['list'], '/in': ['list', 'upload'], '/out': ['list'] });
  assert.deepEqual(sources.permissions, { '/': 'group second', '/in': 'group primary', '/out': 'user' });
  const alone = effectiveUser(user(), { primary: undefined, secondary: [] });
  assert.deepEqual(alone.user.permissions, { '/': ['*'] });
  assert.equal(alone.sources.permissions['/'], 'default');
});

test('OpenPGP folder policies merge like permissions', () => {
  const policy = { mode: 'decrypt', verify: [], quarantine: '/q' } as never;
  const mine = { mode: 'decrypt', verify: ['X'], quarantine: '/q' } as never;
  const { user: e, sources } = effectiveUser(user({ pgpPolicies: { '/a': mine } }), {
    primary: group('g', { pgpPolicies: { '/a': policy, '/b': policy } }),
    secondary: [],
  });
  assert.deepEqual(e.pgpPolicies, { '/a': mine, '/b': policy });
  assert.deepEqual(sources.pgpPolicies, { '/a': 'user', '/b': 'group g' });
});

test("the home: the user's own, else the first group's template, else the default", () => {
  const templated = group('t', { homeTemplate: '/srv/partners/%username%/files' });
  assert.equal(
    effectiveUser(user(), { primary: undefined, secondary: [templated] }).user.homeDir,
    '/srv/partners/pat/files',
  );
  assert.equal(
    effectiveUser(user({ homeDir: '/mine' }), { primary: templated, secondary: [] }).user.homeDir,
    '/mine',
  );
  const none = effectiveUser(user(), { primary: group('plain'), secondary: [] });
  assert.equal(none.user.homeDir, null);
  assert.equal(none.sources.home, 'default');
});

test('home templates: only absolute plain paths with %username% pass; expansion fails closed', () => {
  assert.equal(homeTemplateProblem('/srv/partners/%username%'), undefined);
  assert.equal(homeTemplateProblem('/srv/%username%-in/%username%'), undefined);
  for (const bad of [
    'relative/%username%',
    '/srv/../%username%',
    '/srv/./%username%',
    '/srv//%username%',
    '/srv/%username%/',
    '/srv/%uid%/%username%',
    '/srv/%username%%',
    '/srv/shared',
    '/srv/a\u0000/%username%',
    '/srv/a\\b/%username%',
  ]) {
    assert.ok(homeTemplateProblem(bad), `refused: ${JSON.stringify(bad)}`);
    assert.throws(() => expandHomeTemplate(bad, 'pat'), { code: 'ERR_CONFIG' });
  }
  // Names that would climb or split a path never reach the file system (user names cannot be made so anyway).
  for (const name of ['..', '.hidden', 'a/b']) {
    assert.throws(() => expandHomeTemplate('/srv/%username%', name), { code: 'ERR_CONFIG' }, name);
  }
});

function mount(
  folder: string,
  owner: { kind: 'user' | 'group'; name: string },
  virtualPath: string,
  permissions: FolderMapping['permissions'],
): FolderMapping {
  return {
    folder: {
      id: folder.length,
      name: folder,
      path: `/srv/${folder}`,
      description: '',
      quotaBytes: 100,
      quotaFiles: 0,
      usedBytes: 0,
      usedFiles: 0,
      createdAt: at,
      updatedAt: at,
    },
    owner,
    virtualPath,
    permissions,
  };
}

test("folders: the user's mounts first, then the groups' in order; a used or nesting path is skipped; the folder's permissions rule in all of it", () => {
  const bank = group('bank', { permissions: { '/reports/deep': ['*'] } });
  const e = effectiveUser(
    user({ permissions: { '/': ['*'], '/drop/x': ['*'] } }),
    { primary: bank, secondary: [group('audit')] },
    [
      mount('drop', { kind: 'user', name: 'pat' }, '/drop', ['list', 'upload']),
      mount('reports', { kind: 'group', name: 'bank' }, '/reports', ['list', 'download']),
      mount('other', { kind: 'group', name: 'bank' }, '/drop', ['*']),
      mount('nested', { kind: 'group', name: 'audit' }, '/reports/inner', ['*']),
      mount('archive', { kind: 'group', name: 'audit' }, '/archive', ['list']),
    ],
  );
  assert.deepEqual(
    e.user.folders?.map((f) => [f.name, f.virtualPath, f.root, f.quotaBytes]),
    [
      ['drop', '/drop', '/srv/drop', 100],
      ['reports', '/reports', '/srv/reports', 100],
      ['archive', '/archive', '/srv/archive', 100],
    ],
  );
  assert.deepEqual(e.user.permissions, {
    '/': ['*'],
    '/drop': ['list', 'upload'],
    '/reports': ['list', 'download'],
    '/archive': ['list'],
  });
  assert.deepEqual(e.sources.folders, {
    '/drop': 'user',
    '/reports': 'group bank',
    '/archive': 'group audit',
  });
  assert.equal(e.sources.permissions['/reports'], 'folder reports (group bank)');
  assert.equal(effectiveUser(user(), { primary: undefined, secondary: [] }).user.folders, undefined);
});

test('transfer quotas: each kind is the user’s own, else the first group that sets it, else none', () => {
  const primary = group('primary', { transferQuotas: { upload: { bytes: 100, period: 'day' } } });
  const second = group('second', {
    transferQuotas: { upload: { bytes: 999, period: 'month' }, total: { bytes: 500, period: 'month' } },
  });
  const { user: e, sources } = effectiveUser(
    user({ transferQuotas: { download: { bytes: 7, period: 'day' } } }),
    { primary, secondary: [second] },
  );
  assert.deepEqual(e.transferQuotas, {
    upload: { bytes: 100, period: 'day' },
    download: { bytes: 7, period: 'day' },
    total: { bytes: 500, period: 'month' },
  });
  assert.deepEqual(sources.transferQuotas, {
    upload: 'group primary',
    download: 'user',
    total: 'group second',
  });
  const alone = effectiveUser(user(), { primary: undefined, secondary: [] });
  assert.deepEqual(alone.user.transferQuotas, {});
  assert.deepEqual(alone.sources.transferQuotas, {
    upload: 'default',
    download: 'default',
    total: 'default',
  });
});
