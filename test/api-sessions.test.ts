// DELETE /api/sessions/{id}: a real OpenSSH sftp session is cut off by an operator, and the audit trail says who.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { holdSftp } from './helpers/openssh.js';

const PASSWORD = 'api-sessions-password';
let api: ApiTestServer;
const children: ChildProcess[] = [];

before(async () => {
  api = await startApiTestServer();
  await api.server.addUser('alice', { password: PASSWORD });
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await api?.close();
});

async function sessionOf(user: string): Promise<{ id: string; pid: number } | undefined> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const list = await api.call('GET', '/api/sessions', { key: api.keys.auditor });
    const found = list.body.items.find((s: { username: string }) => s.username === user);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

describe('REST API: killing a live session', () => {
  test('an operator ends an OpenSSH sftp session; wrong role and bad ids change nothing; the kill is audited', async () => {
    const held = holdSftp(api.server.port, 'alice', PASSWORD);
    children.push(held.child);
    const session = await sessionOf('alice');
    assert.ok(session, 'the sftp session is listed');

    assertProblem(
      await api.call('DELETE', `/api/sessions/${session.id}`, { key: api.keys.auditor }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(await api.call('DELETE', `/api/sessions/${session.id}`), 401, 'ERR_UNAUTHENTICATED');
    const bad = await api.call('DELETE', '/api/sessions/..%2F..', { key: api.keys.operator });
    assertProblem(bad, 400, 'ERR_INVALID_ARGUMENT');
    assert.match(bad.body.detail, /session id/);
    assertProblem(
      await api.call('DELETE', '/api/sessions/000000000000', { key: api.keys.operator }),
      404,
      'ERR_NOT_FOUND',
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(held.child.exitCode, null, 'refused kills leave the session alone');
    assert.equal((await sessionOf('alice'))?.id, session.id);

    const killed = await api.call('DELETE', `/api/sessions/${session.id}`, { key: api.keys.operator });
    assert.equal(killed.status, 200, JSON.stringify(killed.body));
    assert.deepEqual(
      [killed.body.id, killed.body.username, killed.body.remoteAddress, killed.body.pid],
      [session.id, 'alice', '127.0.0.1', process.pid],
    );
    // sftp waits on its standard input; its next command meets the closed connection.
    held.child.stdin?.write('ls\n');
    const { code, stderr } = await Promise.race([
      held.exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('sftp is still connected 15 s after the kill')), 15_000),
      ),
    ]);
    assert.notEqual(code, 0, 'sftp saw its connection end');
    assert.match(stderr, /Connection closed|closed by remote host/i);
    const list = await api.call('GET', '/api/sessions', { key: api.keys.auditor });
    assert.deepEqual(list.body.items, []);
    assertProblem(
      await api.call('DELETE', `/api/sessions/${session.id}`, { key: api.keys.operator }),
      404,
      'ERR_NOT_FOUND',
    );

    const record = (await api.adminRecords()).find(
      (r: { target: string }) => r.target === `session ${session.id}`,
    );
    assert.ok(record, 'the kill is in the audit trail');
    assert.equal(record.actor, 'api:operator-key');
    assert.equal(record.detail.command, 'sessions kill');
    assert.equal(record.detail.changes?.user ?? record.detail.user, 'alice', JSON.stringify(record));
  });
});
