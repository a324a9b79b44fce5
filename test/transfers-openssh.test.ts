// Transfer jobs against a real OpenSSH sshd: pinning, pull/push with patterns, resume after a kill, retries, overlap.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobBusyError } from '../src/transfers/jobs.js';
import { HostKeyChangedError, HostKeyNotTrustedError } from '../src/transfers/partners.js';
import { startOpenSshServer } from './helpers/openssh-server.js';
import { randomFile, sha256File, transferFixture } from './helpers/transfers.js';

const noWait = async () => {};

test('a partner is used only after its host key is trusted, and pull/push jobs move matching files once', async () => {
  const fx = await transferFixture();
  const sshd = await startOpenSshServer({ authorizedKeys: fx.publicKey });
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await partners.add({
      name: 'bank',
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.user,
      clientKey: 'id',
    });
    await mkdir(join(sshd.root, 'out'));
    await writeFile(join(sshd.root, 'out', 'a.csv'), 'a,1\n');
    await writeFile(join(sshd.root, 'out', 'b.csv'), 'b,2\n');
    await writeFile(join(sshd.root, 'out', 'notes.txt'), 'skip me');
    const inbox = join(fx.dir, 'in');
    await jobs.add({
      name: 'statements',
      partner: 'bank',
      direction: 'pull',
      remoteDir: 'out',
      localDir: inbox,
      pattern: '*.csv',
      retries: 3,
    });

    await assert.rejects(partners.connect('bank'), HostKeyNotTrustedError);
    const untrusted = await jobs.run('statements');
    assert.equal(untrusted.status, 'failed');
    assert.match(untrusted.error ?? '', /no trusted host key/);
    assert.equal(untrusted.attempts, 1);

    const presented = await partners.fetchHostKey('bank');
    assert.equal(presented.sha256, sshd.hostKeySha256);
    await partners.pin('bank', presented);

    const first = await jobs.run('statements');
    assert.equal(first.status, 'ok', first.error ?? '');
    assert.deepEqual(first.files.map((f) => f.path).sort(), ['a.csv', 'b.csv']);
    assert.ok(first.files.every((f) => f.verified === 'size' && /^[0-9a-f]{64}$/.test(f.sha256 ?? '')));
    assert.deepEqual((await readdir(inbox)).sort(), ['a.csv', 'b.csv']);
    assert.equal(await readFile(join(inbox, 'a.csv'), 'utf8'), 'a,1\n');

    // Nothing new: nothing moves. A changed file (size + mtime) moves again.
    assert.equal((await jobs.run('statements')).files.length, 0);
    await writeFile(join(sshd.root, 'out', 'b.csv'), 'b,2\nb,3\n');
    await utimes(join(sshd.root, 'out', 'b.csv'), new Date(), new Date(Date.now() + 5000));
    const third = await jobs.run('statements');
    assert.deepEqual(
      third.files.map((f) => f.path),
      ['b.csv'],
    );
    assert.equal(await readFile(join(inbox, 'b.csv'), 'utf8'), 'b,2\nb,3\n');

    // Push with a pattern; sources are deleted once delivered; remote temp names never stay behind.
    const outbox = join(fx.dir, 'outbox');
    await mkdir(outbox);
    await mkdir(join(sshd.root, 'invoices'));
    await writeFile(join(outbox, 'inv-1.xml'), '<i>1</i>');
    await writeFile(join(outbox, 'inv-2.xml'), '<i>2</i>');
    await writeFile(join(outbox, 'draft.tmp'), 'no');
    await jobs.add({
      name: 'invoices',
      partner: 'bank',
      direction: 'push',
      remoteDir: 'invoices',
      localDir: outbox,
      pattern: 'inv-*.xml',
      after: 'delete',
    });
    const pushed = await jobs.run('invoices');
    assert.equal(pushed.status, 'ok', pushed.error ?? '');
    assert.deepEqual((await readdir(join(sshd.root, 'invoices'))).sort(), ['inv-1.xml', 'inv-2.xml']);
    assert.deepEqual(await readdir(outbox), ['draft.tmp']);

    const history = await jobs.history('statements');
    assert.deepEqual(
      history.map((r) => [r.status, r.files.length]),
      [
        ['ok', 1],
        ['ok', 0],
        ['ok', 2],
        ['failed', 0],
      ],
    );
    await fx.ctx.audit.flush();
    const audit = await fx.ctx.store.audit.page({ user: 'job:statements', limit: 20 });
    assert.deepEqual(
      audit.map((r) => [r.action, r.result, r.protocol]),
      [
        ['download', 'failed', 'sftp-client'],
        ['download', 'ok', 'sftp-client'],
        ['download', 'ok', 'sftp-client'],
        ['download', 'ok', 'sftp-client'],
      ],
    );
    assert.match(audit[1]?.detail ?? '', /"sha256":"[0-9a-f]{64}"/);
  } finally {
    await sshd.close();
    await fx.close();
  }
});

test('a changed host key stops the transfer with both fingerprints named', async () => {
  const fx = await transferFixture();
  const first = await startOpenSshServer({ authorizedKeys: fx.publicKey });
  const second = await startOpenSshServer({ authorizedKeys: fx.publicKey });
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await partners.add({
      name: 'p',
      host: '127.0.0.1',
      port: first.port,
      username: first.user,
      clientKey: 'id',
    });
    await partners.pin('p', await partners.fetchHostKey('p'));
    await jobs.add({
      name: 'j',
      partner: 'p',
      direction: 'pull',
      remoteDir: '.',
      localDir: join(fx.dir, 'in'),
    });
    // The partner's address now answers with another key (a re-keyed server, or someone in between).
    await fx.ctx.store.partners.update('p', { port: second.port });
    const err = await partners.connect('p').then(
      () => assert.fail('connected despite a changed host key'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HostKeyChangedError);
    assert.equal(err.expected, first.hostKeySha256);
    assert.equal(err.presented, second.hostKeySha256);
    assert.match(err.message, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
    const run = await jobs.run('j');
    assert.equal(run.status, 'failed');
    assert.ok(run.error?.includes(first.hostKeySha256) && run.error.includes(second.hostKeySha256));
  } finally {
    await Promise.all([first.close(), second.close()]);
    await fx.close();
  }
});

test('a download cut off by killing sshd resumes from the partial file and ends byte-identical', async () => {
  const fx = await transferFixture();
  const sshd = await startOpenSshServer({ authorizedKeys: fx.publicKey });
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
    const size = 48 * 1024 * 1024;
    const expected = await randomFile(join(sshd.root, 'big.bin'), size);
    const inbox = join(fx.dir, 'in');
    await jobs.add({
      name: 'big',
      partner: 'p',
      direction: 'pull',
      remoteDir: '.',
      localDir: inbox,
      retries: 2,
    });
    let killed = false;
    const run = await jobs.run('big', {
      sleep: noWait,
      onProgress: (_name, done) => {
        if (!killed && done > size / 3) {
          killed = true;
          sshd.dropConnections();
        }
      },
    });
    assert.ok(killed);
    assert.equal(run.status, 'ok', run.error ?? '');
    assert.equal(run.attempts, 2);
    const file = run.files[0]!;
    assert.ok(file.resumedFrom > 0 && file.resumedFrom < size, `resumed from ${file.resumedFrom}`);
    assert.equal(file.sha256, expected);
    assert.equal(await sha256File(join(inbox, 'big.bin')), expected);
    assert.deepEqual(await readdir(inbox), ['big.bin']);
  } finally {
    await sshd.close();
    await fx.close();
  }
});

test('an upload cut off by killing sshd resumes from the remote temporary file and is renamed when complete', async () => {
  const fx = await transferFixture();
  const sshd = await startOpenSshServer({ authorizedKeys: fx.publicKey });
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
    const size = 48 * 1024 * 1024;
    const outbox = join(fx.dir, 'out');
    await mkdir(outbox);
    const expected = await randomFile(join(outbox, 'big.bin'), size);
    await mkdir(join(sshd.root, 'drop'));
    await jobs.add({
      name: 'up',
      partner: 'p',
      direction: 'push',
      remoteDir: 'drop',
      localDir: outbox,
      retries: 1,
    });
    let killed = false;
    let sawTemp = false;
    const run = await jobs.run('up', {
      sleep: async () => {
        sawTemp = (await readdir(join(sshd.root, 'drop'))).includes('.big.bin.ferry-part');
      },
      onProgress: (_name, done) => {
        if (!killed && done > size / 3) {
          killed = true;
          sshd.dropConnections();
        }
      },
    });
    assert.equal(run.status, 'ok', run.error ?? '');
    assert.ok(sawTemp, 'the interrupted upload left its temporary name, not the final one');
    const file = run.files[0]!;
    assert.ok(file.resumedFrom > 0, `resumed from ${file.resumedFrom}`);
    assert.equal(await sha256File(join(sshd.root, 'drop', 'big.bin')), expected);
    assert.deepEqual(await readdir(join(sshd.root, 'drop')), ['big.bin']);
    assert.equal((await stat(join(sshd.root, 'drop', 'big.bin'))).size, size);
  } finally {
    await sshd.close();
    await fx.close();
  }
});

test('a failing job retries with backoff, then records one failure; a running job is never started twice', async () => {
  const fx = await transferFixture();
  const sshd = await startOpenSshServer({ authorizedKeys: fx.publicKey });
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
    await jobs.add({
      name: 'missing',
      partner: 'p',
      direction: 'pull',
      remoteDir: 'no-such-dir',
      localDir: join(fx.dir, 'in'),
      retries: 3,
      backoffMs: 1000,
    });
    const delays: number[] = [];
    const failures: string[] = [];
    const run = await jobs.run('missing', {
      sleep: async (ms) => {
        delays.push(ms);
      },
      onRetry: (_attempt, _delay, err) => failures.push(err.message),
    });
    assert.equal(run.status, 'failed');
    assert.equal(run.attempts, 4);
    assert.equal(delays.length, 3);
    // Exponential with jitter in [0.5, 1]: 1 s, 2 s, 4 s bases.
    for (const [i, d] of delays.entries())
      assert.ok(d >= 500 * 2 ** i && d <= 1000 * 2 ** i, `delay ${i}: ${d}`);
    assert.match(failures[0] ?? '', /no-such-dir/);
    assert.equal((await jobs.history('missing'))[0]?.status, 'failed');

    // No overlap: while one run holds the job, a second is refused.
    await writeFile(join(sshd.root, 'x.bin'), Buffer.alloc(8 * 1024 * 1024));
    await jobs.add({
      name: 'slow',
      partner: 'p',
      direction: 'pull',
      remoteDir: '.',
      localDir: join(fx.dir, 's'),
    });
    let second: Promise<unknown> | undefined;
    const firstRun = jobs.run('slow', {
      onFile: () => {
        second ??= jobs.run('slow').then(
          () => 'ran',
          (err: unknown) => err,
        );
      },
    });
    assert.equal((await firstRun).status, 'ok');
    assert.ok((await second) instanceof JobBusyError);
    // Once finished, it can run again.
    assert.equal((await jobs.run('slow')).status, 'ok');
  } finally {
    await sshd.close();
    await fx.close();
  }
});
