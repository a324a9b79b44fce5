// A rule's file actions run in sessions of the user whose home they write: a copy into a home counts against
// that user's disk quota, and the copy that would pass it fails the delivery and leaves no file and no partial.
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { contextOf, deliveryOf, ruleOf } from '../src/automation/actions/action-fixture.js';
import { createFileRunners } from '../src/automation/actions/file.js';
import type { FileAction } from '../src/automation/types.js';
import { rootLogger } from '../src/logger.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const KiB = 1024;
let server: TestServer;

before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

test('a copy rule that would pass the user quota fails with the quota message and leaves nothing', async () => {
  const { context } = server.running;
  await server.addUser('qr');
  await context.store.users.update('qr', { quotaBytes: 100 * KiB });
  const home = await server.homeOf('qr');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'a.bin'), Buffer.alloc(60 * KiB, 1));
  await context.scanQuotaUsage('qr');
  const runners = createFileRunners({
    users: context.store.users,
    homesDir: context.paths.homes,
    fileSessions: context.fileSessions,
    log: rootLogger.child({ logger: 'test' }, { level: 'silent' }),
  });
  const action: FileAction = { kind: 'copy', target: '/backup/' };
  const rule = ruleOf('backup', [action]);
  const fields = { event: 'upload', user: 'qr', path: '/a.bin', name: 'a.bin', dir: '/', sessionId: 'ssh-1' };
  const outcome = await runners.copy.run(action, deliveryOf(rule, fields), contextOf(rule));
  assert.equal(outcome.ok, false);
  assert.match(outcome.error ?? '', /quota exceeded: qr may store 102400 bytes/);
  const backup = join(home, 'backup');
  assert.deepEqual(await readdir(backup).catch(() => []), [], 'no copy, no partial');
  const files = (await readdir(home, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  assert.deepEqual(
    files.map((e) => e.name),
    ['a.bin'],
    'no hidden partial anywhere in the home',
  );
  const { quota } = (await context.store.users.findByName('qr'))!;
  assert.equal(quota?.usedBytes, 60 * KiB, 'usage unchanged');
});
