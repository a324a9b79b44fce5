import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActiveTransfers } from './active-transfers.js';
import { makeSessionFixture, READ, UPLOAD, writeAll } from './session-fixture.js';

test('the gauge counts open files: busy while any is open, quiet from when the last one closed', () => {
  let clock = 1000;
  const gauge = new ActiveTransfers(() => clock);
  assert.equal(gauge.quietMs(), Number.POSITIVE_INFINITY, 'nothing was ever open');
  const closeA = gauge.opened();
  const closeB = gauge.opened();
  clock += 50;
  assert.equal(gauge.quietMs(), 0);
  closeA();
  closeA();
  assert.equal(gauge.quietMs(), 0, 'B is still open; closing A twice counts once');
  closeB();
  clock += 30;
  assert.equal(gauge.quietMs(), 30);
});

test("a client's upload and download make the process busy until closed or aborted; listings do not", async (t) => {
  const transfers = new ActiveTransfers();
  const fx = await makeSessionFixture({ transfers });
  t.after(() => fx.cleanup());
  const session = fx.open();
  const dir = await session.openDir('/');
  assert.equal(transfers.open, 0, 'a listing is not a transfer');
  await dir.close();

  const up = await session.openFile('/a.bin', UPLOAD);
  assert.equal(transfers.open, 1, 'an upload is open');
  await writeAll(up, Buffer.alloc(10_000, 1));
  await up.close();
  assert.equal(transfers.open, 0, 'closed');

  const down = await session.openFile('/a.bin', READ);
  assert.equal(transfers.open, 1, 'a download is open');
  await down.close();
  assert.equal(transfers.open, 0);

  // A connection that drops mid-upload: the session's close aborts the handle, and the process is quiet again.
  const dropped = fx.open();
  await dropped.openFile('/b.bin', UPLOAD);
  assert.equal(transfers.open, 1);
  await dropped.close();
  assert.equal(transfers.open, 0, 'an aborted upload is released');
});

test("a rule action's own file is not a client transfer", async (t) => {
  const transfers = new ActiveTransfers();
  const fx = await makeSessionFixture({ transfers, protocol: 'rule' });
  t.after(() => fx.cleanup());
  const handle = await fx.open().openFile('/copy.bin', UPLOAD);
  assert.equal(transfers.open, 0, 'deliveries must not wait for themselves');
  await handle.close();
});
