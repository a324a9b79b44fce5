// /api/folders on a real server: define a folder, mount it for a group, see it in a member's effective settings,
// unmount and delete it; bad input is a problem document and changes nothing; each change is one admin record.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-api-folders-'));
  api = await startApiTestServer();
  await api.server.addUser('alice', { password: 'alice-pw-123456' });
  await api.server.running.context.admin.groups.add({ kind: 'cli', name: 'test' }, { name: 'bank-partners' });
  await api.server.running.context.admin.users.set(
    { kind: 'cli', name: 'test' },
    { name: 'alice', group: 'bank-partners' },
  );
});

after(async () => {
  await api?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('REST API /api/folders', () => {
  test('create, mount for a group, effective view, unmount, delete; each change one admin record', async () => {
    const key = api.keys.operator;
    const path = join(work, 'reports');
    const created = await api.call('POST', '/api/folders', {
      key,
      body: { name: 'reports', path, quotaBytes: 1048576, description: 'monthly' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.headers.get('location'), '/api/folders/reports');
    assert.deepEqual([created.body.path, created.body.quotaBytes, created.body.mounts], [path, 1048576, []]);
    const mounted = await api.call('POST', '/api/folders/reports/mounts', {
      key,
      body: { owner: { kind: 'group', name: 'bank-partners' }, virtualPath: '/reports' },
    });
    assert.equal(mounted.status, 200, JSON.stringify(mounted.body));
    assert.deepEqual(mounted.body.mounts, [
      {
        owner: { kind: 'group', name: 'bank-partners' },
        virtualPath: '/reports',
        permissions: ['list', 'download'],
      },
    ]);
    const effective = await api.call('GET', '/api/users/alice/effective', { key });
    assert.equal(effective.status, 200, JSON.stringify(effective.body));
    assert.deepEqual(effective.body.folders, [
      { name: 'reports', virtualPath: '/reports', root: path, quotaBytes: 1048576, quotaFiles: 0 },
    ]);
    assert.deepEqual(effective.body.permissions['/reports'], ['list', 'download']);
    assert.equal(effective.body.sources.folders['/reports'], 'group bank-partners');
    const patched = await api.call('PATCH', '/api/folders/reports', { key, body: { quotaFiles: 10 } });
    assert.equal(patched.body.quotaFiles, 10);
    assertProblem(await api.call('DELETE', '/api/folders/reports', { key }), 400, 'ERR_INVALID_ARGUMENT');
    const unmounted = await api.call(
      'DELETE',
      '/api/folders/reports/mounts?kind=group&owner=bank-partners&virtualPath=%2Freports',
      { key },
    );
    assert.equal(unmounted.status, 200, JSON.stringify(unmounted.body));
    assert.deepEqual(unmounted.body.mounts, []);
    assert.equal((await api.call('DELETE', '/api/folders/reports', { key })).status, 204);
    assertProblem(await api.call('GET', '/api/folders/reports', { key }), 404, 'ERR_NOT_FOUND');
    const commands = (await api.adminRecords())
      .filter((r) => /^folders /.test(r.detail.command))
      .map((r) => `${r.detail.command} ${r.actor}`);
    assert.deepEqual(commands, [
      'folders add api:operator-key',
      'folders mount api:operator-key',
      'folders set api:operator-key',
      'folders unmount api:operator-key',
      'folders remove api:operator-key',
    ]);
  });

  test('bad input is refused with a problem document and changes nothing; the auditor cannot write', async () => {
    const key = api.keys.operator;
    const dataDir = api.server.dataDir;
    for (const body of [
      { name: 'x', path: 'relative/dir' },
      { name: 'x', path: join(dataDir, 'homes') },
      { name: 'x', path: `${work}/../etc` },
      { name: '../x', path: join(work, 'x') },
      { name: 'x', path: join(work, 'x'), quotaBytes: -1 },
    ]) {
      const r = await api.call('POST', '/api/folders', { key, body });
      assert.equal(r.status, 400, JSON.stringify([body, r.body]));
    }
    await api.call('POST', '/api/folders', { key, body: { name: 'ok', path: join(work, 'ok') } });
    for (const body of [
      { owner: { kind: 'user', name: 'alice' }, virtualPath: '/' },
      { owner: { kind: 'user', name: 'alice' }, virtualPath: 'x' },
      { owner: { kind: 'user', name: 'alice' }, virtualPath: '/a/../b' },
      { owner: { kind: 'user', name: 'alice' }, virtualPath: '/x', permissions: ['fly'] },
    ]) {
      const r = await api.call('POST', '/api/folders/ok/mounts', { key, body });
      assert.equal(r.status, 400, JSON.stringify([body, r.body]));
    }
    assertProblem(
      await api.call('POST', '/api/folders/ok/mounts', {
        key,
        body: { owner: { kind: 'user', name: 'nobody' }, virtualPath: '/x' },
      }),
      404,
      'ERR_NOT_FOUND',
    );
    const list = await api.call('GET', '/api/folders', { key });
    assert.deepEqual(
      list.body.items.map((f: { name: string; mounts: unknown[] }) => [f.name, f.mounts.length]),
      [['ok', 0]],
    );
    const denied = await api.call('POST', '/api/folders', {
      key: api.keys.auditor,
      body: { name: 'y', path: join(work, 'y') },
    });
    assert.equal(denied.status, 403);
  });
});
