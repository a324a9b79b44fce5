// OpenPGP folder policies end to end: OpenSSH sftp and scp uploads into encrypt and decrypt folders, checked with
// real GnuPG. Writes out of order, a removed key and decrypt-on-download: pgp-folders-raw-sftp.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { systemActor } from '../src/admin/actor.js';
import type { PgpEvent } from '../src/events/types.js';
import type { Gpg } from './helpers/gpg.js';
import { makeClientKey, scpRun, sftpBatch } from './helpers/openssh.js';
import { type PgpFixture, startPgpFixture } from './helpers/pgp-folders-fixture.js';
import type { TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);
let fx: PgpFixture;
let work: string;
let server: TestServer;
let partner: Gpg;
let stranger: Gpg;
let partnerFpr: string;
let strangerFpr: string;
let ferryFpr: string;
let identity: string;
let events: readonly PgpEvent[];

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

before(async () => {
  fx = await startPgpFixture();
  ({ work, server, partner, stranger, partnerFpr, strangerFpr, ferryFpr, events } = fx);
  const key = await makeClientKey(work, 'ed25519');
  identity = key.privatePath;
  await server.addUser('alice', { publicKeys: [key.publicText] });
  const home = await server.homeOf('alice');
  await mkdir(join(home, 'out'), { recursive: true });
  await mkdir(join(home, 'drop'), { recursive: true });
  await server.running.context.admin.users.set(systemActor(), {
    name: 'alice',
    pgp: [`/out=encrypt:${partnerFpr.toLowerCase()};sign:ferry`, `/drop=decrypt;verify:${partnerFpr}`],
  });
});

after(async () => {
  await fx?.close();
});

async function put(local: string, remote: string) {
  const r = await sftpBatch({
    port: server.port,
    user: 'alice',
    identity,
    batch: `put ${local} ${remote}\n`,
    cwd: work,
  });
  assert.equal(r.code, 0, r.stderr);
}

/** Files under `dir` whose bytes contain `marker` (GNU grep, binary files read as text). */
async function filesHolding(dir: string, marker: string): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync('grep', ['-r', '-l', '-F', '--binary-files=text', marker, dir]);
    return stdout.split('\n').filter(Boolean);
  } catch (err) {
    if ((err as { code?: number }).code === 1) return [];
    throw err;
  }
}

test('a 64 MiB OpenSSH upload into an encrypt folder is stored only as ciphertext that gpg decrypts and verifies', async () => {
  const marker = `PLAINTEXT-MARKER-${randomBytes(12).toString('hex')}`;
  const block = Buffer.concat([Buffer.from(marker), randomBytes(1024 * 1024 - marker.length)]);
  const plain = Buffer.concat(Array.from({ length: 64 }, () => block));
  const local = join(work, 'statement.bin');
  await writeFile(local, plain);
  const home = await server.homeOf('alice');
  // The same upload unencrypted first, so the growth measured below is what encryption adds.
  await put(local, '/plain.bin');
  await rm(join(home, 'plain.bin'));

  // Scan the whole data dir for the marker while the upload runs, and watch this process's memory.
  let uploading = true;
  const leaks = new Set<string>();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let scans = 0;
  const scanner = (async () => {
    while (uploading) {
      for (const f of await filesHolding(server.dataDir, marker)) leaks.add(f);
      scans++;
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const started = Date.now();
  await put(local, '/out/statement.bin');
  uploading = false;
  await scanner;
  const seconds = (Date.now() - started) / 1000;
  for (const f of await filesHolding(server.dataDir, marker)) leaks.add(f);
  assert.deepEqual([...leaks], [], 'plaintext found on disk');
  assert.ok(scans >= 2, `the data dir was scanned during the upload (${scans} scans)`);

  assert.deepEqual(await readdir(join(home, 'out')), ['statement.bin.pgp']);
  const stored = join(home, 'out', 'statement.bin.pgp');
  const decrypted = join(work, 'statement.out');
  const r = await partner.run(['--status-fd', '1', '--output', decrypted, '--decrypt', stored]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`VALIDSIG ${ferryFpr}`), 'signed by Ferry');
  assert.match(r.stdout, /DECRYPTION_OKAY/);
  assert.equal(sha256(await readFile(decrypted)), sha256(plain));
  const growthMiB = (rssPeak - rssBefore) / 2 ** 20;
  process.stdout.write(
    `# 64 MiB encrypt-folder upload: ${seconds.toFixed(1)} s, ciphertext ${(await stat(stored)).size} bytes, server RSS growth ${growthMiB.toFixed(1)} MiB\n`,
  );
  assert.ok(growthMiB < 128, `server RSS grew ${growthMiB.toFixed(1)} MiB`);
  const event = events.find((e) => e.phase === 'encrypted' && e.path === '/out/statement.bin');
  assert.equal(event?.target, '/out/statement.bin.pgp');
});

test('a file gpg encrypted and signed for Ferry, uploaded into a decrypt folder, appears decrypted and verified', async () => {
  const home = await server.homeOf('alice');
  const plain = Buffer.concat([Buffer.from('id;amount\n'), randomBytes(3 * 1024 * 1024)]);
  await writeFile(join(work, 'pay.csv'), plain);
  const enc = await partner.run([
    '--trust-model',
    'always',
    '--encrypt',
    '--sign',
    '-u',
    partnerFpr,
    '-r',
    ferryFpr,
    '--output',
    join(work, 'pay.csv.gpg'),
    join(work, 'pay.csv'),
  ]);
  assert.equal(enc.code, 0, enc.stderr);
  await put(join(work, 'pay.csv.gpg'), '/drop/pay.csv.gpg');
  assert.deepEqual(await readdir(join(home, 'drop')), ['pay.csv']);
  assert.equal(sha256(await readFile(join(home, 'drop', 'pay.csv'))), sha256(plain));
  const event = events.find((e) => e.phase === 'decrypted' && e.path === '/drop/pay.csv.gpg');
  assert.equal(event?.target, '/drop/pay.csv');
  assert.equal(event?.signer, partnerFpr);

  // Moved in from elsewhere in the home, it arrives all the same.
  const moved = await sftpBatch({
    port: server.port,
    user: 'alice',
    identity,
    batch: `put ${join(work, 'pay.csv.gpg')} /staged.gpg\nrename /staged.gpg /drop/moved.csv.gpg\n`,
    cwd: work,
  });
  assert.equal(moved.code, 0, moved.stderr);
  assert.deepEqual((await readdir(join(home, 'drop'))).sort(), ['moved.csv', 'pay.csv']);
  assert.equal(sha256(await readFile(join(home, 'drop', 'moved.csv'))), sha256(plain));
});

test('tampered ciphertext and a wrong signer go to quarantine, each with an event, and leave no plaintext', async () => {
  const home = await server.homeOf('alice');
  const plain = Buffer.concat([Buffer.from('QUARANTINE-PLAIN'), randomBytes(512 * 1024)]);
  await writeFile(join(work, 'q.txt'), plain);
  const good = await partner.run([
    '--trust-model',
    'always',
    '--encrypt',
    '--sign',
    '-u',
    partnerFpr,
    '-r',
    ferryFpr,
    '--output',
    join(work, 'tampered.gpg'),
    join(work, 'q.txt'),
  ]);
  assert.equal(good.code, 0, good.stderr);
  const bytes = await readFile(join(work, 'tampered.gpg'));
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  await writeFile(join(work, 'tampered.gpg'), bytes);
  const imported = await stranger.run(
    ['--import'],
    (await server.running.context.admin.keys.pgp.get('ferry')).publicArmored,
  );
  assert.equal(imported.code, 0, imported.stderr);
  const wrong = await stranger.run([
    '--trust-model',
    'always',
    '--encrypt',
    '--sign',
    '-u',
    strangerFpr,
    '-r',
    ferryFpr,
    '--output',
    join(work, 'wrong-signer.pgp'),
    join(work, 'q.txt'),
  ]);
  assert.equal(wrong.code, 0, wrong.stderr);

  // A rule alerting on quarantined arrivals (a webhook nobody answers: the delivery is what is checked).
  await server.running.context.store.rules.create({
    name: 'pgp-alarm',
    enabled: true,
    events: ['pgp-quarantined'],
    conditions: { paths: ['/drop/**'] },
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/unused' }],
  });
  await server.running.automation.refresh();

  await put(join(work, 'tampered.gpg'), '/drop/tampered.gpg');
  await put(join(work, 'wrong-signer.pgp'), '/drop/wrong-signer.pgp');
  const alarms = await server.running.context.store.deliveries.list({ rule: 'pgp-alarm' });
  assert.deepEqual(alarms.map((d) => [d.fields.path, d.fields.target, d.fields.status]).sort(), [
    ['/drop/tampered.gpg', '/quarantine/tampered.gpg', 'failed'],
    ['/drop/wrong-signer.pgp', '/quarantine/wrong-signer.pgp', 'failed'],
  ]);
  await server.running.context.store.rules.remove('pgp-alarm');

  // Only the earlier test's decrypted files: no ciphertext, no partial plaintext of the refused ones.
  assert.deepEqual((await readdir(join(home, 'drop'))).sort(), ['moved.csv', 'pay.csv']);
  assert.deepEqual((await readdir(join(home, 'quarantine'))).sort(), ['tampered.gpg', 'wrong-signer.pgp']);
  assert.deepEqual(await readFile(join(home, 'quarantine', 'tampered.gpg')), bytes);
  const quarantined = events.filter((e) => e.phase === 'quarantined');
  const tampered = quarantined.find((e) => e.path === '/drop/tampered.gpg');
  const signer = quarantined.find((e) => e.path === '/drop/wrong-signer.pgp');
  assert.equal(tampered?.target, '/quarantine/tampered.gpg');
  assert.ok(
    tampered?.reason === 'integrity' || tampered?.reason === 'malformed',
    `reason ${tampered?.reason}`,
  );
  assert.equal(signer?.reason, 'bad-signature');
  // The audit trail holds them too (action pgp, failed, with the reason).
  await server.running.context.audit.flush();
  const records = await server.running.context.store.audit.page({
    actions: ['pgp'],
    user: 'alice',
    limit: 50,
  });
  const audited = records.find((r) => r.path === '/drop/wrong-signer.pgp');
  assert.equal(audited?.result, 'failed');
  assert.equal(audited?.target, '/quarantine/wrong-signer.pgp');
  assert.match(audited?.detail ?? '', /"reason":"bad-signature"/);
  assert.deepEqual(await filesHolding(join(home, 'drop'), 'QUARANTINE-PLAIN'), []);
});

test('a legacy scp upload into an encrypt folder is stored encrypted too', async () => {
  const home = await server.homeOf('alice');
  const data = randomBytes(200_000);
  await writeFile(join(work, 'scp.bin'), data);
  const r = await scpRun({
    port: server.port,
    user: 'alice',
    identity,
    args: ['-O', 'scp.bin', 'remote:/out/scp.bin'],
    cwd: work,
  });
  assert.equal(r.code, 0, r.stderr);
  const out = join(work, 'scp.out');
  const d = await partner.run(['--output', out, '--decrypt', join(home, 'out', 'scp.bin.pgp')]);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(await readFile(out), data);
});

test('a file moved into an encrypt folder is stored encrypted there, and a hard link into it is refused', async () => {
  const home = await server.homeOf('alice');
  const data = Buffer.concat([Buffer.from('MOVED-IN-PLAINTEXT '), randomBytes(100_000)]);
  await writeFile(join(work, 'draft.txt'), data);
  const r = await sftpBatch({
    port: server.port,
    user: 'alice',
    identity,
    batch:
      'put draft.txt /draft.txt\nput draft.txt /draft2.txt\nrename /draft.txt /out/moved.txt\n-ln /draft2.txt /out/linked.txt\n',
    cwd: work,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!(await readdir(home)).includes('draft.txt'), 'the plaintext left with the move');
  const out = await readdir(join(home, 'out'));
  assert.ok(
    out.includes('moved.txt.pgp') && !out.includes('moved.txt') && !out.includes('linked.txt'),
    out.join(),
  );
  assert.deepEqual(await filesHolding(join(home, 'out'), 'MOVED-IN-PLAINTEXT'), []);
  const clear = join(work, 'moved.out');
  const d = await partner.run(['--output', clear, '--decrypt', join(home, 'out', 'moved.txt.pgp')]);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(await readFile(clear), data);
});
