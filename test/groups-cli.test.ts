// Groups through the CLI (offline against a data dir) and the REST API: create, change, list, show, remove; users
// join and leave; the effective view says where each setting came from; bad input is one line and changes nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { runFerry } from './helpers/cli.js';

let work: string;
let dataDir: string;
const ferry = (...args: string[]) => runFerry([...args, '--data-dir', dataDir]);
const ok = async (...args: string[]) => {
  const r = await ferry(...args);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
/** Fails with exactly one line on stderr. */
const refused = async (pattern: RegExp, ...args: string[]) => {
  const r = await ferry(...args);
  assert.notEqual(r.code, 0, `ferry ${args.join(' ')} should fail`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
};

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-groups-cli-'));
  dataDir = join(work, 'data');
  const init = await runFerry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('ferry groups', () => {
  test('add, show, list and set a group; members inherit and see where each setting came from', async () => {
    await ok(
      'groups',
      'add',
      'bank-partners',
      '--home-template',
      '/srv/partners/%username%',
      '--perm',
      '/in=list,upload',
      '--protocols',
      'sftp,ftps',
      '--upload-rate',
      '5MiB',
      '--description',
      'partner banks',
    );
    await ok('groups', 'add', 'auditors', '--perm', '/=list,download', '--allow-from', '10.0.0.0/8');
    const shown = await ok('groups', 'show', 'bank-partners');
    assert.match(shown, /home template: +\/srv\/partners\/%username%/);
    assert.match(shown, /\/in list,upload/);
    assert.match(shown, /upload 5242880 B\/s/);

    const added = await ok('users', 'add', 'bob', '--group', 'bank-partners', '--add-group', 'auditors');
    assert.match(added, /home \/srv\/partners\/bob/, 'the home sessions will use');
    const effective = JSON.parse(await ok('users', 'show', 'bob', '--effective', '--json'));
    assert.deepEqual(effective.groups, { primary: 'bank-partners', secondary: ['auditors'] });
    assert.equal(effective.home, '/srv/partners/bob');
    assert.deepEqual(effective.permissions, { '/': ['list', 'download'], '/in': ['list', 'upload'] });
    assert.deepEqual(effective.sources.permissions, { '/': 'group auditors', '/in': 'group bank-partners' });
    assert.deepEqual(effective.protocols, ['sftp', 'ftps']);
    assert.equal(effective.sources.allowedSources, 'group auditors');
    assert.equal(effective.uploadRate, 5 * 1024 * 1024);

    const list = JSON.parse(await ok('groups', 'list', '--json'));
    assert.deepEqual(
      list.map((g: { name: string; members: unknown[] }) => [g.name, g.members]),
      [
        ['auditors', [{ user: 'bob', primary: false }]],
        ['bank-partners', [{ user: 'bob', primary: true }]],
      ],
    );
    await ok('groups', 'set', 'bank-partners', '--no-home-template', '--remove-perm', '/in');
    const after = JSON.parse(await ok('users', 'show', 'bob', '--effective', '--json'));
    assert.equal(after.sources.home, 'default');
    assert.deepEqual(after.permissions, { '/': ['list', 'download'] });
    assert.match(await ok('users', 'show', 'bob'), /groups: +bank-partners; secondary: auditors/);
  });

  test('bad input is one line and changes nothing', async () => {
    await ok('groups', 'add', 'others');
    const before = await ok('groups', 'list', '--json');
    const bob = await ok('users', 'show', 'bob', '--json');
    await refused(/no group named nope/, 'users', 'add', 'carl', '--group', 'nope');
    await refused(/no user named carl/, 'users', 'show', 'carl');
    await refused(
      /no group named nope/,
      'users',
      'set',
      'bob',
      '--add-group',
      'nope',
      '--remove-group',
      'auditors',
    );
    await refused(
      /bob is not in group others/,
      'users',
      'set',
      'bob',
      '--group',
      'others',
      '--remove-group',
      'others',
    );
    await refused(/no group named x/, 'users', 'set', 'bob', '--remove-group', 'x');
    await refused(/no own permission entry for \/zz/, 'users', 'set', 'bob', '--inherit-perm', '/zz');
    await refused(/already exists/, 'groups', 'add', 'auditors');
    await refused(/invalid|letters/i, 'groups', 'add', '../etc');
    await refused(/CIDR/, 'groups', 'add', 'nets', '--allow-from', 'not-a-net');
    await refused(/unknown permission/, 'groups', 'add', 'perms', '--perm', '/in=fly');
    await refused(/still has 1 member/, 'groups', 'remove', 'auditors');
    assert.equal(await ok('groups', 'list', '--json'), before);
    assert.equal(await ok('users', 'show', 'bob', '--json'), bob);
  });

  test('leaving groups, then removing them', async () => {
    await ok('users', 'set', 'bob', '--remove-group', 'auditors', '--group', 'none');
    assert.match(await ok('users', 'show', 'bob'), /groups: +no primary\n/);
    await ok('groups', 'remove', 'auditors');
    await ok('groups', 'remove', 'bank-partners');
    await ok('groups', 'remove', 'others');
    assert.deepEqual(JSON.parse(await ok('groups', 'list', '--json')), []);
  });
});

describe('/api/groups', () => {
  let api: ApiTestServer;
  before(async () => {
    api = await startApiTestServer();
    await api.server.addUser('alice', { password: 'alice-pw-123456' });
  });
  after(() => api?.close());

  test('operators create, change and remove groups and memberships; auditors only read', async () => {
    const { call, keys } = api;
    const body = {
      name: 'bank-partners',
      homeTemplate: '/srv/p/%username%',
      permissions: ['/out=list,download'],
    };
    assertProblem(
      await call('POST', '/api/groups', { key: keys.auditor, body }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    const created = await call('POST', '/api/groups', { key: keys.operator, body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.headers.get('location'), '/api/groups/bank-partners');
    assertProblem(
      await call('POST', '/api/groups', {
        key: keys.operator,
        body: { name: 'evil', homeTemplate: '/x/../%username%' },
      }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    const joined = await call('PATCH', '/api/users/alice', {
      key: keys.operator,
      body: { group: 'bank-partners' },
    });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    assert.equal(joined.body.home, '/srv/p/alice');
    const patched = await call('PATCH', '/api/groups/bank-partners', {
      key: keys.operator,
      body: { uploadRate: 1000 },
    });
    assert.equal(patched.body.uploadRate, 1000);
    assert.deepEqual(patched.body.members, [{ user: 'alice', primary: true }]);
    const effective = await call('GET', '/api/users/alice/effective', { key: keys.auditor });
    assert.equal(effective.status, 403, 'users:read is for admins and operators');
    const seen = await call('GET', '/api/users/alice/effective', { key: keys.operator });
    assert.equal(seen.body.uploadRate, 1000);
    assert.equal(seen.body.sources.uploadRate, 'group bank-partners');
    assert.equal(seen.body.sources.permissions['/out'], 'group bank-partners');
    assertProblem(
      await call('DELETE', '/api/groups/bank-partners', { key: keys.operator }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    await call('PATCH', '/api/users/alice', { key: keys.operator, body: { group: null } });
    assert.equal((await call('DELETE', '/api/groups/bank-partners', { key: keys.operator })).status, 204);
    assert.deepEqual((await call('GET', '/api/groups', { key: keys.operator })).body.items, []);
    const commands = (await api.adminRecords()).map((r: { detail: { command: string } }) => r.detail.command);
    for (const c of ['groups add', 'groups set', 'groups remove']) assert.ok(commands.includes(c), c);
  });
});
