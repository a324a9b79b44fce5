// Partner jobs over FTPS against Debian's vsftpd (explicit FTPS, require_ssl_reuse) and Ferry's own FTPS listener:
// push and pull with content checked by SHA-256, the certificate pinned or verified against a CA file, a wrong
// certificate refused before anything moves, and interrupted transfers resumed to an identical file.
import assert from 'node:assert/strict';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import type { FerryEvent } from '../src/events/types.js';
import { Secret } from '../src/util/secret.js';
import { startHostileFtps } from './helpers/hostile-ftps.js';
import { startTestServer } from './helpers/server.js';
import { randomFile, sha256File, type TransferFixture, transferFixture } from './helpers/transfers.js';
import { startVsftpd, type Vsftpd } from './helpers/vsftpd.js';

const ANON = { username: 'anonymous', password: new Secret('ferry@example.com') };

async function vsftpdPartner(fx: TransferFixture, v: Vsftpd, name = 'bank') {
  await fx.ctx.transfers.partners.add({ name, protocol: 'ftps', host: '127.0.0.1', port: v.port, ...ANON });
}

/** Runs a job, aborting it once `after` bytes of its first file moved: an interrupted transfer. */
/**
 * A partial's size once it stops changing: after a cut data connection the server (vsftpd's session process)
 * goes on writing what it had already received until it reads the close, which a stat right after the cut
 * misses (it saw 1.8 MB where the resume then found 3.9 MB).
 */
async function settledSize(path: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  let last = (await stat(path)).size;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = (await stat(path)).size;
    if (now === last) return now;
    if (Date.now() > deadline) throw new Error(`${path} still growing after 10 s (${now} bytes)`);
    last = now;
  }
}

async function runInterrupted(fx: TransferFixture, job: string, after: number) {
  const abort = new AbortController();
  const run = await fx.ctx.transfers.jobs.run(job, {
    signal: abort.signal,
    onProgress: (_name, done) => {
      if (done >= after) abort.abort();
    },
  });
  assert.equal(run.status, 'failed', 'the run was cut');
  return run;
}

test('vsftpd (explicit FTPS, require_ssl_reuse): trust its certificate, push and pull with after-move, audited', async () => {
  const fx = await transferFixture();
  const v = await startVsftpd();
  const events: FerryEvent[] = [];
  fx.ctx.events.subscribe((e) => {
    events.push(e);
  });
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await vsftpdPartner(fx, v);
    await assert.rejects(
      jobs.add({ name: 'x', partner: 'nobody', direction: 'push', remoteDir: '/', localDir: fx.dir }),
    );
    const presented = await partners.fetchHostKey('bank');
    assert.deepEqual([presented.algorithm, presented.sha256], ['x509', v.fingerprint]);
    await partners.pin('bank', presented);
    const report = await partners.test('bank');
    assert.equal(report.protocol, 'ftps');
    assert.equal(report.serverBanner, '(vsFTPd 3.0.3)');
    assert.match(report.kex, /^TLSv1\.[23]$/);

    const outbox = join(fx.dir, 'out');
    await mkdir(outbox);
    const big = await randomFile(join(outbox, 'big.bin'), 3 * 1024 * 1024 + 5);
    const small = await randomFile(join(outbox, 'small.csv'), 1000);
    await writeFile(join(outbox, 'skip.tmp'), 'x');
    await jobs.add({
      name: 'push',
      partner: 'bank',
      direction: 'push',
      remoteDir: '/pub',
      localDir: outbox,
      pattern: '*.bin,*.csv',
    });
    const pushed = await jobs.run('push');
    assert.equal(pushed.status, 'ok', pushed.error ?? '');
    assert.deepEqual(pushed.files.map((f) => [f.path, f.sha256, f.verified]).sort(), [
      ['big.bin', big, 'size'],
      ['small.csv', small, 'size'],
    ]);
    assert.equal(await sha256File(join(v.pub, 'big.bin')), big);
    assert.equal(await sha256File(join(v.pub, 'small.csv')), small);
    assert.deepEqual((await readdir(v.pub)).sort(), ['big.bin', 'small.csv'], 'no temporary name left');

    // Pull them back with read-back verification (vsftpd has no HASH), moving the sources into done/.
    await partners.update('bank', { readBack: true });
    const inbox = join(fx.dir, 'in');
    await jobs.add({
      name: 'pull',
      partner: 'bank',
      direction: 'pull',
      remoteDir: '/pub',
      localDir: inbox,
      after: 'move:done',
    });
    const pulled = await jobs.run('pull');
    assert.equal(pulled.status, 'ok', pulled.error ?? '');
    assert.deepEqual(pulled.files.map((f) => [f.path, f.verified]).sort(), [
      ['big.bin', 'read-back'],
      ['small.csv', 'read-back'],
    ]);
    assert.equal(await sha256File(join(inbox, 'big.bin')), big);
    assert.equal(await sha256File(join(inbox, 'small.csv')), small);
    assert.deepEqual((await readdir(join(v.pub, 'done'))).sort(), ['big.bin', 'small.csv']);
    assert.deepEqual(await readdir(v.pub), ['done']);
    // A second run finds nothing new.
    assert.equal((await jobs.run('pull')).files.length, 0);

    await fx.ctx.audit.flush();
    const audit = await fx.ctx.store.audit.page({ user: 'job:push', limit: 10 });
    assert.deepEqual(
      audit.map((r) => [r.action, r.result, r.protocol, r.address]),
      [
        ['upload', 'ok', 'ftps-client', `127.0.0.1:${v.port}`],
        ['upload', 'ok', 'ftps-client', `127.0.0.1:${v.port}`],
      ],
    );
    const jobEvents = events.filter((e) => e.type === 'job').map((e) => `${e.job} ${e.phase}`);
    assert.deepEqual(jobEvents.slice(0, 4), [
      'push started',
      'push succeeded',
      'pull started',
      'pull succeeded',
    ]);
  } finally {
    await v.close();
    await fx.close();
  }
});

test('a wrong certificate fingerprint refuses with one line, before login, and transfers nothing', async () => {
  const fx = await transferFixture();
  const v = await startVsftpd();
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await vsftpdPartner(fx, v);
    // Not trusted at all: refused, with the way out named.
    const outbox = join(fx.dir, 'out');
    await mkdir(outbox);
    await randomFile(join(outbox, 'a.bin'), 100_000);
    await jobs.add({
      name: 'push',
      partner: 'bank',
      direction: 'push',
      remoteDir: '/pub',
      localDir: outbox,
      retries: 2,
      backoffMs: 1,
    });
    const untrusted = await jobs.run('push');
    assert.equal(untrusted.status, 'failed');
    assert.match(untrusted.error ?? '', /no trusted TLS certificate; run: ferry partners trust bank/);

    const wrong = v.fingerprint.replace(/^../, v.fingerprint.startsWith('00') ? '11' : '00');
    await partners.pin('bank', { algorithm: 'x509', sha256: wrong });
    const events: FerryEvent[] = [];
    fx.ctx.events.subscribe((e) => {
      events.push(e);
    });
    const run = await jobs.run('push');
    assert.equal(run.status, 'failed');
    assert.equal(run.attempts, 1, 'an identity problem is not retried');
    assert.equal(run.files.length, 0);
    const error = run.error ?? '';
    assert.ok(!error.includes('\n'), `one line: ${error}`);
    assert.match(
      error,
      new RegExp(`presented TLS certificate SHA-256 ${v.fingerprint}, not the trusted ${wrong}`),
    );
    assert.deepEqual(await readdir(v.pub), [], 'nothing reached the server');
    const failed = events.find((e) => e.type === 'job' && e.phase === 'failed');
    assert.equal(failed?.type === 'job' ? failed.errorCode : undefined, 'ERR_HOST_KEY_CHANGED');
    // Trusted again (through the admin service, in lower case without colons, as an API caller may send it).
    const fixed = await fx.ctx.admin.partners.trust(cliActor(), {
      name: 'bank',
      algorithm: 'x509',
      sha256: v.fingerprint.replaceAll(':', '').toLowerCase(),
    });
    assert.equal(fixed.hostKeySha256, v.fingerprint);
    assert.equal((await jobs.run('push')).status, 'ok');
    assert.deepEqual(await readdir(v.pub), ['a.bin']);
  } finally {
    await v.close();
    await fx.close();
  }
});

test('a CA file verifies the certificate and host name instead of a pin; a foreign CA is refused', async () => {
  const fx = await transferFixture();
  const v = await startVsftpd();
  const other = await startVsftpd();
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await partners.add({
      name: 'ca',
      protocol: 'ftps',
      host: '127.0.0.1',
      port: v.port,
      tlsCaFile: v.certFile,
      ...ANON,
    });
    await partners.add({
      name: 'foreign',
      protocol: 'ftps',
      host: '127.0.0.1',
      port: v.port,
      tlsCaFile: other.certFile,
      ...ANON,
    });
    await assert.rejects(
      partners.add({
        name: 'bad',
        protocol: 'ftps',
        host: 'h',
        tlsCaFile: join(fx.dir, 'nope.pem'),
        ...ANON,
      }),
      /cannot read --ca-file/,
    );
    await assert.rejects(
      partners.add({ name: 'bad', protocol: 'ftps', host: 'h', clientKey: 'id', ...ANON }),
      /log in with a password, not a client key/,
    );
    const outbox = join(fx.dir, 'out');
    await mkdir(outbox);
    const sum = await randomFile(join(outbox, 'a.bin'), 200_000);
    for (const partner of ['ca', 'foreign'])
      await jobs.add({ name: partner, partner, direction: 'push', remoteDir: '/pub', localDir: outbox });
    const refused = await jobs.run('foreign');
    assert.equal(refused.status, 'failed');
    assert.match(refused.error ?? '', /TLS handshake failed: self[- ]signed certificate/);
    assert.deepEqual(await readdir(v.pub), []);
    const ok = await jobs.run('ca');
    assert.equal(ok.status, 'ok', ok.error ?? '');
    assert.equal(await sha256File(join(v.pub, 'a.bin')), sum);
  } finally {
    await other.close();
    await v.close();
    await fx.close();
  }
});

test('vsftpd: an interrupted push resumes with APPE and an interrupted pull with REST; the sha256 is identical', async () => {
  const fx = await transferFixture();
  const v = await startVsftpd();
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await vsftpdPartner(fx, v);
    await partners.pin('bank', await partners.fetchHostKey('bank'));
    const outbox = join(fx.dir, 'out');
    await mkdir(outbox);
    const size = 24 * 1024 * 1024;
    const sum = await randomFile(join(outbox, 'big.bin'), size);
    await jobs.add({ name: 'push', partner: 'bank', direction: 'push', remoteDir: '/pub', localDir: outbox });
    await runInterrupted(fx, 'push', 4 * 1024 * 1024);
    const partial = await settledSize(join(v.pub, '.big.bin.ferry-part'));
    assert.ok(partial > 0 && partial < size, `a partial upload stayed: ${partial}`);
    const pushed = await jobs.run('push');
    assert.equal(pushed.status, 'ok', pushed.error ?? '');
    assert.equal(pushed.files[0]?.resumedFrom, partial);
    assert.equal(pushed.files[0]?.sha256, sum);
    assert.equal(await sha256File(join(v.pub, 'big.bin')), sum);

    const inbox = join(fx.dir, 'in');
    await jobs.add({ name: 'pull', partner: 'bank', direction: 'pull', remoteDir: '/pub', localDir: inbox });
    await runInterrupted(fx, 'pull', 4 * 1024 * 1024);
    const local = await settledSize(join(inbox, '.ferry-part.big.bin'));
    assert.ok(local > 0 && local < size, `a partial download stayed: ${local}`);
    const pulled = await jobs.run('pull');
    assert.equal(pulled.status, 'ok', pulled.error ?? '');
    assert.equal(pulled.files[0]?.resumedFrom, local);
    assert.equal(await sha256File(join(inbox, 'big.bin')), sum);
    assert.deepEqual(await readdir(inbox), ['big.bin']);
  } finally {
    await v.close();
    await fx.close();
  }
});

test("Ferry's own FTPS listener (explicit and implicit): push and pull verified by HASH, resume after a cut", async () => {
  const fx = await transferFixture();
  const server = await startTestServer({ config: { ftps: { port: 0, implicitPort: 0 } } });
  try {
    await server.addUser('acme', { password: 'pw-acme-123' });
    const home = await server.homeOf('acme');
    await mkdir(join(home, 'in'), { recursive: true });
    const { partners, jobs } = fx.ctx.transfers;
    const ftps = server.running.ftps!;
    const login = { host: '127.0.0.1', username: 'acme', password: new Secret('pw-acme-123') };
    await partners.add({ name: 'explicit', protocol: 'ftps', port: ftps.port!, ...login });
    await partners.add({ name: 'implicit', protocol: 'ftps-implicit', port: ftps.implicitPort!, ...login });
    for (const name of ['explicit', 'implicit']) await partners.pin(name, await partners.fetchHostKey(name));
    assert.equal(
      (await partners.get('explicit')).hostKeySha256,
      (await partners.get('implicit')).hostKeySha256,
    );
    const report = await partners.test('implicit');
    assert.equal(report.serverHash, true);

    const outbox = join(fx.dir, 'out');
    await mkdir(outbox);
    const size = 16 * 1024 * 1024;
    const sum = await randomFile(join(outbox, 'data.bin'), size);
    await jobs.add({
      name: 'push',
      partner: 'explicit',
      direction: 'push',
      remoteDir: '/in',
      localDir: outbox,
    });
    await runInterrupted(fx, 'push', 3 * 1024 * 1024);
    const pushed = await jobs.run('push');
    assert.equal(pushed.status, 'ok', pushed.error ?? '');
    assert.equal(pushed.files[0]?.verified, 'hash');
    assert.ok((pushed.files[0]?.resumedFrom ?? 0) > 0, 'the push continued the partial');
    assert.equal(await sha256File(join(home, 'in', 'data.bin')), sum);

    const inbox = join(fx.dir, 'in');
    const pull = { partner: 'implicit', direction: 'pull', remoteDir: '/in', localDir: inbox } as const;
    await jobs.add({ name: 'pull', ...pull });
    await runInterrupted(fx, 'pull', 3 * 1024 * 1024);
    const pulled = await jobs.run('pull');
    assert.equal(pulled.status, 'ok', pulled.error ?? '');
    assert.deepEqual(
      pulled.files.map((f) => [f.path, f.verified, f.sha256, f.resumedFrom > 0]),
      [['data.bin', 'hash', sum, true]],
    );
    assert.equal(await sha256File(join(inbox, 'data.bin')), sum);
  } finally {
    await server.close();
    await fx.close();
  }
});

test('a data connection that presents another certificate than the pinned one is cut before a byte is used', async () => {
  const fx = await transferFixture();
  const content = Buffer.from('data from a man in the middle\n');
  const hostile = await startHostileFtps(join(fx.dir, 'hostile'), { name: 'evil.csv', data: content });
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await partners.add({ name: 'mitm', protocol: 'ftps', host: '127.0.0.1', port: hostile.port, ...ANON });
    const presented = await partners.fetchHostKey('mitm');
    assert.equal(presented.sha256, hostile.controlFingerprint);
    await partners.pin('mitm', presented);
    const inbox = join(fx.dir, 'in');
    await jobs.add({ name: 'pull', partner: 'mitm', direction: 'pull', remoteDir: '/', localDir: inbox });
    const run = await jobs.run('pull');
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /data connection presented certificate [0-9A-F:]{95}, not the pinned one/);
    assert.ok(hostile.dataConnections() >= 1, 'the data connection was made (and refused by the client)');
    assert.deepEqual(await readdir(inbox).catch(() => []), [], 'nothing was received');
  } finally {
    await hostile.close();
    await fx.close();
  }
});

test('a server that sends more than the SIZE it announced is cut off (no disk filling), and nothing is published', async () => {
  const fx = await transferFixture();
  const hostile = await startHostileFtps(
    join(fx.dir, 'hostile'),
    { name: 'big.csv', data: Buffer.alloc(2 * 1024 * 1024, 7) },
    { size: 1000, sameCertificate: true },
  );
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await partners.add({ name: 'liar', protocol: 'ftps', host: '127.0.0.1', port: hostile.port, ...ANON });
    await partners.pin('liar', await partners.fetchHostKey('liar'));
    const inbox = join(fx.dir, 'in');
    await jobs.add({ name: 'pull', partner: 'liar', direction: 'pull', remoteDir: '/', localDir: inbox });
    const run = await jobs.run('pull');
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /sends more than the 1000 bytes SIZE reported/);
    const left = await readdir(inbox);
    assert.ok(!left.includes('big.csv'), 'not published');
    for (const name of left)
      assert.ok((await stat(join(inbox, name))).size <= 1000, `${name} holds no more than SIZE`);
  } finally {
    await hostile.close();
    await fx.close();
  }
});
