// Pre-operation hooks against OpenSSH's sftp: a pre-upload rule refuses *.exe with "Permission denied", leaving no file.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ruleOf } from '../src/automation/actions/action-fixture.js';
import { createHookGate } from '../src/automation/hooks.js';
import type { RuleRecord } from '../src/automation/types.js';
import { rootLogger } from '../src/logger.js';
import { makeClientKey, sftpBatch } from './helpers/openssh.js';
import { startTestServer } from './helpers/server.js';

test('a pre-upload hook refuses an OpenSSH put of x.exe (no file, partial or final) and lets x.txt through; a hook that times out denies', async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const dir = await mkdtemp(join(tmpdir(), 'ferry-hooks-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = await makeClientKey(dir, 'ed25519');
  await server.addUser('alice', { publicKeys: [key.publicText] });
  const home = await server.homeOf('alice');
  const rules: RuleRecord[] = [
    ruleOf('no-exe', [{ kind: 'command', argv: ['/bin/false'] }], {
      id: 1,
      events: ['pre-upload'],
      conditions: { paths: ['**/*.exe'] },
    }),
    ruleOf('slow-scan', [{ kind: 'command', argv: ['/bin/sleep', '5'] }], {
      id: 2,
      events: ['pre-upload'],
      conditions: { paths: ['**/*.slow'] },
      hookTimeoutMs: 300,
    }),
    ruleOf('locked-downloads', [{ kind: 'command', argv: ['/bin/false'] }], {
      id: 3,
      events: ['pre-download', 'pre-delete'],
      conditions: { paths: ['/locked/**'] },
    }),
  ];
  const gate = createHookGate({
    rules: { forEvent: (event) => rules.filter((r) => r.events.includes(event)) },
    commandsEnabled: true,
    log: rootLogger.child({ logger: 'test' }),
  });
  const ctx = server.running.context;
  ctx.preOperationGate = gate;
  for (const name of ['x.exe', 'x.txt', 'y.slow']) await writeFile(join(dir, name), `content of ${name}\n`);
  const put = (name: string) =>
    sftpBatch({
      port: server.port,
      user: 'alice',
      identity: key.privatePath,
      batch: `put ${name}\n`,
      cwd: dir,
    });

  const refused = await put('x.exe');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Permission denied/);
  const allowed = await put('x.txt');
  assert.equal(allowed.code, 0, allowed.stderr);
  const before = gate.latency.sumMs;
  const timedOut = await put('y.slow');
  const hookMs = gate.latency.sumMs - before;
  assert.notEqual(timedOut.code, 0);
  assert.match(timedOut.stderr, /Permission denied/);
  // Bounds, not timings: the hook sleeps 5 s; a timer may fire a millisecond early by this clock.
  assert.ok(hookMs >= 290 && hookMs < 4000, `the timed-out hook took ${Math.round(hookMs)} ms`);
  // Nothing of the refused uploads exists, under its name or as a hidden partial.
  assert.deepEqual(await readdir(home, { recursive: true }), ['x.txt']);

  // Downloads and deletes are asked too.
  await mkdir(join(home, 'locked'));
  await writeFile(join(home, 'locked', 'a.txt'), 'locked\n');
  const get = await sftpBatch({
    port: server.port,
    user: 'alice',
    identity: key.privatePath,
    batch: 'get locked/a.txt got.txt\n',
    cwd: dir,
  });
  assert.notEqual(get.code, 0);
  assert.match(get.stderr, /Permission denied/);
  const removal = await sftpBatch({
    port: server.port,
    user: 'alice',
    identity: key.privatePath,
    batch: 'rm locked/a.txt\n',
    cwd: dir,
  });
  assert.notEqual(removal.code, 0);
  assert.match(removal.stderr, /Permission denied/);
  assert.deepEqual(await readdir(join(home, 'locked')), ['a.txt']);
  assert.equal(
    (
      await sftpBatch({
        port: server.port,
        user: 'alice',
        identity: key.privatePath,
        batch: 'get x.txt got.txt\nrm x.txt\n',
        cwd: dir,
      })
    ).code,
    0,
  );

  // The audit trail names the rule that refused.
  await ctx.audit.flush();
  const records = await ctx.store.audit.page({ actions: ['upload'], limit: 10 });
  const denied = records.filter((r) => r.result === 'denied').map((r) => [r.user, r.path, r.reason]);
  const deleteRecords = await ctx.store.audit.page({ actions: ['delete'], limit: 10 });
  assert.deepEqual(
    deleteRecords.filter((r) => r.result === 'denied').map((r) => [r.path, r.reason]),
    [['/locked/a.txt', 'Permission denied by rule locked-downloads: exit status 1']],
  );
  const downloads = await ctx.store.audit.page({ actions: ['download'], limit: 10 });
  assert.deepEqual(
    downloads.filter((r) => r.result === 'denied').map((r) => [r.path, r.reason]),
    [['/locked/a.txt', 'Permission denied by rule locked-downloads: exit status 1']],
  );
  assert.deepEqual(denied.sort(), [
    ['alice', '/x.exe', 'Permission denied by rule no-exe: exit status 1'],
    ['alice', '/y.slow', 'Permission denied by rule slow-scan: hook failed: timed out after 300 ms'],
  ]);
});
