// The scheduler inside serve: scheduled runs never overlap, a run missed during downtime runs once on start.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { rootLogger } from '../src/logger.js';
import { type SchedulerClock, TransferScheduler } from '../src/transfers/scheduler.js';
import { startTestServer } from './helpers/server.js';
import { transferFixture } from './helpers/transfers.js';

/** A clock the test moves by hand: slots fire when the test says so, however busy the machine is. */
class ManualClock implements SchedulerClock {
  #now: number;
  #timers: { when: number; fire: () => void; cancelled: boolean }[] = [];
  constructor(start: Date) {
    this.#now = start.getTime();
  }
  now(): Date {
    return new Date(this.#now);
  }
  at(when: Date, fire: () => void): () => void {
    const timer = { when: when.getTime(), fire, cancelled: false };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }
  /** Moves time on, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = this.#timers
        .filter((t) => !t.cancelled && t.when <= until)
        .sort((a, b) => a.when - b.when)[0];
      if (!due) break;
      due.cancelled = true;
      this.#now = Math.max(this.#now, due.when);
      due.fire();
    }
    this.#now = until;
  }
}

/**
 * Half past an hour: an hourly job has no slot in the seconds a test steps through. The last half hour gone,
 * never a later one: a clock ahead of the jobs' creation would owe them catch-up runs.
 */
function lastHalfHour(): Date {
  const start = new Date();
  start.setMinutes(30, 0, 0);
  if (start.getTime() > Date.now()) start.setHours(start.getHours() - 1);
  return start;
}

test('scheduled runs of a job never overlap and a run missed while down is made up once', async () => {
  const fx = await transferFixture();
  // A Ferry server as the partner: in-process, so the test needs no sshd.
  const server = await startTestServer();
  const log = rootLogger.child({ test: 'scheduler' }, { level: 'silent' });
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await server.addUser('partner', { publicKeys: [fx.publicKey] });
    const home = await server.homeOf('partner');
    await mkdir(home, { recursive: true });
    await partners.add({
      name: 'p',
      host: '127.0.0.1',
      port: server.port,
      username: 'partner',
      clientKey: 'id',
    });
    await partners.pin('p', await partners.fetchHostKey('p'));
    await writeFile(join(home, 'a.txt'), 'a');
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
      backoffMs: 200,
    });
    const start = lastHalfHour();
    const clock = new ManualClock(start);
    const scheduler = new TransferScheduler({ jobs, log, reloadMs: 60_000, clock });
    await scheduler.start();
    await scheduler.idle(); // the hourly catch-up run
    clock.advance(1000); // busy's first slot: a run starts
    assert.deepEqual(scheduler.running, ['busy']);
    clock.advance(1000); // its next slots come while the run is still going: skipped
    clock.advance(1000);
    await scheduler.idle();
    clock.advance(1000); // the next slot after the run ended: a second run
    await scheduler.idle();
    await scheduler.stop();

    const hourly = await jobs.history('hourly');
    assert.deepEqual(
      hourly.map((r) => [r.trigger, r.status]),
      [['catch-up', 'ok']],
    );
    const busy = (await jobs.history('busy')).reverse();
    assert.equal(busy.length, 2, `${busy.length} runs`);
    for (let i = 1; i < busy.length; i++) {
      assert.ok(
        busy[i]!.startedAt >= busy[i - 1]!.finishedAt!,
        'a run started before the previous one finished',
      );
    }
    assert.ok(busy.every((r) => r.trigger === 'schedule'));
    assert.ok((await jobs.get('busy')).lastScheduledAt !== null);
  } finally {
    await server.close();
    await fx.close();
  }
});

test('a slot fired by several processes runs once, however late the others fire it', async () => {
  const fx = await transferFixture();
  const server = await startTestServer();
  const log = rootLogger.child({ test: 'scheduler-claim' }, { level: 'silent' });
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await server.addUser('partner', { publicKeys: [fx.publicKey] });
    await mkdir(await server.homeOf('partner'), { recursive: true });
    await partners.add({
      name: 'p',
      host: '127.0.0.1',
      port: server.port,
      username: 'partner',
      clientKey: 'id',
    });
    await partners.pin('p', await partners.fetchHostKey('p'));
    await jobs.add({
      name: 'quick',
      partner: 'p',
      direction: 'pull',
      remoteDir: '.',
      localDir: join(fx.dir, 'quick'),
      schedule: '* * * * * *',
    });
    // Two schedulers (two workers, or two nodes) on one store, each with its own clock at the same time.
    const start = lastHalfHour();
    const [clockA, clockB] = [new ManualClock(start), new ManualClock(start)];
    const a = new TransferScheduler({ jobs, log, reloadMs: 60_000, clock: clockA });
    const b = new TransferScheduler({ jobs, log, reloadMs: 60_000, clock: clockB });
    await a.start();
    await b.start();
    // A fires the first slot and its run ends; B fires the same slot only then (a late timer, a busy node): the
    // run lock is free again, but the slot was handled.
    clockA.advance(1000);
    await a.idle();
    clockB.advance(1000);
    await b.idle();
    assert.equal((await jobs.history('quick')).length, 1, 'the late process did not run the slot again');
    // The next slot fired by both at once: one run.
    clockA.advance(1000);
    clockB.advance(1000);
    await Promise.all([a.idle(), b.idle()]);
    await a.stop();
    await b.stop();
    const runs = await jobs.history('quick');
    assert.deepEqual(
      runs.map((r) => [r.trigger, r.status]),
      [
        ['schedule', 'ok'],
        ['schedule', 'ok'],
      ],
    );
  } finally {
    await server.close();
    await fx.close();
  }
});

test('a slot whose job is still running elsewhere is skipped, and the process that claimed it says so', async () => {
  const fx = await transferFixture();
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  try {
    await fx.ctx.transfers.partners.add({
      name: 'p',
      host: '127.0.0.1',
      port: 9,
      username: 'partner',
      clientKey: 'id',
    });
    const { jobs } = fx.ctx.transfers;
    await jobs.add({
      name: 'long',
      partner: 'p',
      direction: 'pull',
      remoteDir: '.',
      localDir: join(fx.dir, 'long'),
      schedule: '* * * * * *',
    });
    // Another process's run holds the job's run lock (as a run outlasting the gap to the next slot does).
    const lease = new Date(Date.now() + 600_000);
    assert.ok(await fx.ctx.store.transferJobs.acquireLock('long', 'other-process', lease, new Date()));
    const start = lastHalfHour();
    const clock = new ManualClock(start);
    const scheduler = new TransferScheduler({ jobs, log, reloadMs: 60_000, clock });
    await scheduler.start();
    clock.advance(1000);
    await scheduler.idle();
    await scheduler.stop();
    assert.equal((await jobs.history('long')).length, 0, 'no run while another holds the lock');
    const skipped = lines.map((l) => JSON.parse(l)).filter((l) => /^slot skipped: a run of this/.test(l.msg));
    assert.equal(skipped.length, 1, lines.join(''));
    assert.equal(skipped[0].job, 'long');
    assert.equal(new Date(skipped[0].slot).getTime(), start.getTime() + 1000);
  } finally {
    await fx.close();
  }
});
