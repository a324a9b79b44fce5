// Partner jobs with an OpenPGP step against a real OpenSSH sshd: push --encrypt-to, pull --decrypt --verify, checked with gpg.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemActor } from '../src/admin/actor.js';
import type { FerryEvent, PgpEvent } from '../src/events/types.js';
import { makeGpg } from './helpers/gpg.js';
import { startOpenSshServer } from './helpers/openssh-server.js';
import { randomFile, sha256File, transferFixture } from './helpers/transfers.js';

test('push --encrypt-to sends a message gpg decrypts and verifies; pull --decrypt --verify decrypts and quarantines', async () => {
  const fx = await transferFixture();
  const sshd = await startOpenSshServer({ authorizedKeys: fx.publicKey });
  const bank = await makeGpg(fx.dir, 'bank');
  try {
    const events: PgpEvent[] = [];
    fx.ctx.events.subscribe((e: FerryEvent) => {
      if (e.type === 'pgp') events.push(e);
    });
    const bankFpr = await bank.generate('Bank <bank@example.com>');
    const admin = fx.ctx.admin;
    await admin.keys.pgp.import(systemActor(), {
      name: 'bank',
      data: Buffer.from(await bank.exportPublic(bankFpr)),
    });
    const ferry = await admin.keys.pgp.generate(systemActor(), { name: 'ferry', email: 'ferry@example.com' });
    assert.equal((await bank.run(['--import'], ferry.publicArmored)).code, 0);
    const { partners } = fx.ctx.transfers;
    await partners.add({
      name: 'bank',
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.user,
      clientKey: 'id',
    });
    await partners.pin('bank', await partners.fetchHostKey('bank'));

    // Push: the partner receives only inv-1.xml.pgp, which the bank's gpg decrypts to the same bytes, signed by Ferry.
    const outbox = join(fx.dir, 'outbox');
    await mkdir(outbox);
    await mkdir(join(sshd.root, 'invoices'));
    const sent = await randomFile(join(outbox, 'inv-1.xml'), 5 * 1024 * 1024 + 3);
    await admin.jobs.add(systemActor(), {
      name: 'invoices',
      partner: 'bank',
      direction: 'push',
      remoteDir: 'invoices',
      localDir: outbox,
      encryptTo: [bankFpr.toLowerCase()],
      signWith: 'ferry',
    });
    const pushed = await admin.jobs.run(systemActor(), 'invoices');
    assert.equal(pushed.status, 'ok', pushed.error ?? '');
    assert.deepEqual(await readdir(join(sshd.root, 'invoices')), ['inv-1.xml.pgp']);
    assert.deepEqual(await readdir(outbox), ['inv-1.xml'], 'nothing staged is left behind');
    const clear = join(fx.dir, 'inv-1.decrypted');
    const gpg = await bank.run([
      '--status-fd',
      '1',
      '--output',
      clear,
      '--decrypt',
      join(sshd.root, 'invoices', 'inv-1.xml.pgp'),
    ]);
    assert.equal(gpg.code, 0, gpg.stderr);
    assert.match(gpg.stdout, new RegExp(`VALIDSIG ${ferry.fingerprint}`));
    assert.equal(await sha256File(clear), sent);

    // Pull: what the bank encrypted and signed for Ferry arrives decrypted; a tampered file goes to quarantine.
    await mkdir(join(sshd.root, 'out'));
    const statement = await randomFile(join(fx.dir, 'stmt.csv'), 2 * 1024 * 1024);
    const encrypt = (output: string) =>
      bank.run([
        '--trust-model',
        'always',
        '--encrypt',
        '--sign',
        '-u',
        bankFpr,
        '-r',
        ferry.fingerprint,
        '--output',
        output,
        join(fx.dir, 'stmt.csv'),
      ]);
    assert.equal((await encrypt(join(sshd.root, 'out', 'stmt.csv.gpg'))).code, 0);
    const inbox = join(fx.dir, 'inbox');
    await admin.jobs.add(systemActor(), {
      name: 'statements',
      partner: 'bank',
      direction: 'pull',
      remoteDir: 'out',
      localDir: inbox,
      decrypt: true,
      verify: ['bank'],
    });
    const pulled = await admin.jobs.run(systemActor(), 'statements');
    assert.equal(pulled.status, 'ok', pulled.error ?? '');
    assert.deepEqual(await readdir(inbox), ['stmt.csv']);
    assert.equal(await sha256File(join(inbox, 'stmt.csv')), statement);
    assert.equal(events.find((e) => e.phase === 'decrypted')?.signer, bankFpr);

    const tampered = join(sshd.root, 'out', 'broken.csv.gpg');
    assert.equal((await encrypt(tampered)).code, 0);
    const bytes = await readFile(tampered);
    const at = bytes.length - 40;
    bytes[at] = (bytes[at] ?? 0) ^ 0x80;
    await writeFile(tampered, bytes);
    const refused = await admin.jobs.run(systemActor(), 'statements');
    assert.equal(refused.status, 'failed');
    assert.match(
      refused.error ?? '',
      /broken\.csv\.gpg was not decrypted .*moved to .*quarantine\/broken\.csv\.gpg/,
    );
    assert.deepEqual(await readdir(inbox), ['quarantine', 'stmt.csv']);
    assert.deepEqual(await readFile(join(inbox, 'quarantine', 'broken.csv.gpg')), bytes);
    const event = events.find((e) => e.phase === 'quarantined');
    assert.equal(event?.protocol, 'sftp-client');
    assert.equal(event?.path, '/broken.csv.gpg');
  } finally {
    await bank.dispose();
    await sshd.close();
    await fx.close();
  }
});

test('job OpenPGP options are refused on the wrong direction or with unknown keys, and no job is made', async () => {
  const fx = await transferFixture();
  try {
    const admin = fx.ctx.admin;
    await fx.ctx.transfers.partners.add({
      name: 'p',
      host: '127.0.0.1',
      port: 22,
      username: 'u',
      clientKey: 'id',
    });
    const base = { name: 'j', partner: 'p', remoteDir: 'r', localDir: join(fx.dir, 'l') };
    await assert.rejects(
      admin.jobs.add(systemActor(), { ...base, direction: 'push', encryptTo: ['A'.repeat(40)] }),
      /no OpenPGP key named A{40}/,
    );
    await admin.keys.pgp.generate(systemActor(), { name: 'k', email: 'k@example.com' });
    await assert.rejects(
      admin.jobs.add(systemActor(), { ...base, direction: 'pull', encryptTo: ['k'] }),
      /--encrypt-to, --sign-with and --armor are for push jobs/,
    );
    await assert.rejects(
      admin.jobs.add(systemActor(), { ...base, direction: 'push', decrypt: true }),
      /--decrypt and --verify are for pull jobs/,
    );
    assert.deepEqual(await admin.jobs.list(), []);
  } finally {
    await fx.close();
  }
});
