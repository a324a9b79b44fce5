import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { PermissionDeniedError } from '../errors.js';
import type { PreOperation, PreOperationContext, PreOperationGate } from './pre-operation.js';
import { download, makeSessionFixture, READ, UPLOAD, upload } from './session-fixture.js';

/** A gate that refuses names ending in .exe and records what it was asked. */
function exeGate(asked: [PreOperation, PreOperationContext][]): PreOperationGate {
  return {
    async check(op, context) {
      asked.push([op, context]);
      return context.path.endsWith('.exe')
        ? { allow: false, rule: 'no-exe', reason: 'executables are refused' }
        : { allow: true };
    },
  };
}

test('a refused upload never reaches the disk and is recorded as a failed transfer naming the rule', async (t) => {
  const asked: [PreOperation, PreOperationContext][] = [];
  let gate: PreOperationGate | undefined;
  const fx = await makeSessionFixture({ preOperation: () => gate });
  t.after(() => fx.cleanup());
  const session = fx.open();
  // No gate: nothing is asked.
  await upload(session, '/before.exe', Buffer.from('x'));
  gate = exeGate(asked);
  await assert.rejects(
    session.openFile('/in/../x.exe', UPLOAD),
    (err: Error) =>
      err instanceof PermissionDeniedError &&
      err.message === 'Permission denied by rule no-exe: executables are refused',
  );
  assert.deepEqual(asked[0], [
    'upload',
    { user: 'alice', path: '/x.exe', protocol: 'sftp', remoteAddress: '192.0.2.7', sessionId: 'session-1' },
  ]);
  assert.deepEqual((await readdir(fx.homeDir)).sort(), ['before.exe'], 'no file, no partial');
  const refused = fx.transfers().at(-1);
  assert.deepEqual(
    [refused?.direction, refused?.path, refused?.completed, refused?.error],
    ['upload', '/x.exe', false, 'Permission denied by rule no-exe: executables are refused'],
  );
  await upload(session, '/x.txt', Buffer.from('fine'));
  assert.equal(asked.at(-1)?.[0], 'upload');
  // Reading is a download; deleting is checked too, and audited with the rule's name.
  await assert.rejects(session.openFile('/before.exe', READ), PermissionDeniedError);
  assert.equal(asked.at(-1)?.[0], 'download');
  assert.equal((await download(session, '/x.txt')).toString(), 'fine');
  await assert.rejects(session.remove('/before.exe'), /Permission denied by rule no-exe/);
  assert.ok(existsSync(join(fx.homeDir, 'before.exe')));
  const del = fx.fileOps().at(-1);
  assert.deepEqual(
    [del?.operation, del?.ok, del?.error, del?.errorCode],
    ['delete', false, 'Permission denied by rule no-exe: executables are refused', 'ERR_PERMISSION_DENIED'],
  );
  await session.remove('/x.txt');
  assert.deepEqual(asked.at(-1), [
    'delete',
    { user: 'alice', path: '/x.txt', protocol: 'sftp', remoteAddress: '192.0.2.7', sessionId: 'session-1' },
  ]);
});

test('a gate that throws refuses (fail closed)', async (t) => {
  const fx = await makeSessionFixture({
    preOperation: () => ({
      check: async () => {
        throw new Error('rule cache broken');
      },
    }),
  });
  t.after(() => fx.cleanup());
  const session = fx.open();
  await assert.rejects(
    session.openFile('/a.txt', UPLOAD),
    /Permission denied by rule \(pre-operation hooks\): the check failed/,
  );
  assert.deepEqual(await readdir(fx.homeDir), [], 'nothing written');
});
