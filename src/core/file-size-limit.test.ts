import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeSessionFixture, READ_WRITE, UPLOAD } from './session-fixture.js';

test('maxFileSize refuses a write, a resize or a copy past it and changes nothing', async () => {
  const fx = await makeSessionFixture({ limits: { maxFileSize: 1000 }, uploadMode: 'direct' });
  try {
    const session = fx.open();
    const handle = await session.openFile('/a.bin', UPLOAD);
    await handle.write(0, Buffer.alloc(600, 1));
    await assert.rejects(handle.write(2 ** 40, Buffer.from('x')), { code: 'ERR_LIMIT' });
    await assert.rejects(handle.write(500, Buffer.alloc(501)), { code: 'ERR_LIMIT' });
    await handle.write(600, Buffer.alloc(400, 2));
    await assert.rejects(handle.setstat({ size: 1001 }), { code: 'ERR_LIMIT' });
    await handle.close();
    assert.equal((await stat(join(fx.homeDir, 'a.bin'))).size, 1000);
    await assert.rejects(session.setstat('/a.bin', { size: 5000 }), { code: 'ERR_LIMIT' });
    assert.equal((await stat(join(fx.homeDir, 'a.bin'))).size, 1000);

    const source = await session.openFile('/a.bin', READ_WRITE);
    const target = await session.openFile('/b.bin', UPLOAD);
    await assert.rejects(session.copyData(source, 0, 0, target, 500), { code: 'ERR_LIMIT' });
    await session.copyData(source, 0, 0, target, 0);
    await source.close();
    await target.close();
    assert.equal((await stat(join(fx.homeDir, 'b.bin'))).size, 1000);
    assert.deepEqual((await readdir(fx.homeDir)).sort(), ['a.bin', 'b.bin']);
  } finally {
    await fx.cleanup();
  }
});
