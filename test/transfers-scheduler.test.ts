// The scheduler inside serve: scheduled runs never overlap, a run missed during downtime runs once on start.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { rootLogger } from '../src/logger.js';
import { TransferScheduler } from '../src/transfers/scheduler.js';
import { startOpenSshServer } from './helpers/openssh-server.js';
import { transferFixture } from './helpers/transfers.js';

test('scheduled runs of a job never overlap and a run missed while down is made up once', async () => {
  const fx = await transferFixture();
  const sshd = await startOpenSshServer({ authorizedKeys: fx.publicKey });
  const log = rootLogger.child({ test: 'scheduler' }, { level: 'silent' });
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await partners.add({
      name: 'p',
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.user,
      clientKey: 'id',
    });
    await partners.pin('p', await partners.fetchHostKey('p'));
    await writeFile(join(sshd.root, 'a.txt'), 'a');
    // Hourly, last handled two hours ago: Ferry was down over at least one slot.
    await jobs.add({
      name: 'hourly',
      partner: 'p',
      direction: 'pull',
      remoteDir: '.',
      localDir: join(fx.dir, 'hourly'),
      schedule: '0 * * * *',
    });
    await jobs.markScheduled('hourly', new Date(Date.now() - 2 * 3_600_000));
    // Every second, but each run lasts longer than that: its retry wait keeps it busy past the next slots.
    await jobs.add({
      name: 'busy',
      partner: 'p',
      direction: 'pull',
      remoteDir: 'no-such-dir',
      localDir: join(fx.dir, 'busy'),
      schedule: '* * * * * *',
      retries: 1,
      backoffMs: 2500,
    });
    const scheduler = new TransferScheduler({ jobs, log, reloadMs: 60_000 });
    await scheduler.start();
    await new Promise((resolve) => setTimeout(resolve, 4200));
    await scheduler.stop();

    const hourly = await jobs.history('hourly');
    assert.deepEqual(
      hourly.map((r) => [r.trigger, r.status]),
      [['catch-up', 'ok']],
    );
    const busy = (await jobs.history('busy')).reverse();
    assert.ok(busy.length >= 1 && busy.length <= 2, `${busy.length} runs`);
    for (let i = 1; i < busy.length; i++) {
      assert.ok(
        busy[i]!.startedAt >= busy[i - 1]!.finishedAt!,
        'a run started before the previous one finished',
      );
    }
    assert.ok(busy.every((r) => r.trigger === 'schedule'));
    assert.ok((await jobs.get('busy')).lastScheduledAt !== null);
  } finally {
    await sshd.close();
    await fx.close();
  }
});
