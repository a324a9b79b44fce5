// OpenPGP folder policies over the SFTP protocol itself, checked with real GnuPG: an encrypt folder refuses writes
// out of order and a key that is gone, and decrypt-on-download serves plaintext at any offset. OpenSSH uploads
// into encrypt and decrypt folders: pgp-folders.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { systemActor } from '../src/admin/actor.js';
import { FX } from '../src/sftp/wire/constants.js';
import type { Gpg } from './helpers/gpg.js';
import { makeClientKey, sftpBatch } from './helpers/openssh.js';
import { type PgpFixture, startPgpFixture } from './helpers/pgp-folders-fixture.js';
import { attempt, FXF, RawSftp, SftpRefusal } from './helpers/raw-sftp.js';
import type { TestServer } from './helpers/server.js';

let fx: PgpFixture;
let work: string;
let server: TestServer;
let partner: Gpg;
let stranger: Gpg;
let partnerFpr: string;
let strangerFpr: string;

before(async () => {
  fx = await startPgpFixture();
  ({ work, server, partner, stranger, partnerFpr, strangerFpr } = fx);
});

after(async () => {
  await fx?.close();
});

test('an encrypt folder refuses writes out of order and resumes clearly, publishes nothing then, and takes the file again from 0', async () => {
  await server.addUser('bob', { password: 'bob-secret' });
  const home = await server.homeOf('bob');
  await mkdir(join(home, 'out'), { recursive: true });
  await server.running.context.admin.users.set(systemActor(), {
    name: 'bob',
    pgp: [`/out=encrypt:${partnerFpr}`],
  });
  const sftp = await RawSftp.connect({ port: server.port, username: 'bob', password: 'bob-secret' });
  try {
    const data = randomBytes(64 * 1024);
    // A gap: the second write does not start where the first ended.
    const gap = await sftp.open('/out/gap.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
    await sftp.write(gap, 0, data.subarray(0, 1000));
    const refused = await attempt(() => sftp.write(gap, 5000, data.subarray(5000, 6000)));
    assert.ok(!refused.ok && refused.error instanceof SftpRefusal);
    assert.equal(refused.error.code, FX.OP_UNSUPPORTED);
    // Error texts never reach the wire (they may carry paths): the client reads OpenSSH's wording for the code.
    assert.equal(refused.error.text, 'Operation unsupported');
    assert.equal((await attempt(() => sftp.close(gap))).ok, false, 'CLOSE reports the failed upload');
    // A resume: the first write starts past 0 (where an interrupted upload stopped).
    const resume = await sftp.open('/out/gap.bin', FXF.WRITE | FXF.CREAT);
    const resumed = await attempt(() => sftp.write(resume, 1000, data.subarray(1000)));
    assert.ok(
      !resumed.ok && resumed.error instanceof SftpRefusal && resumed.error.code === FX.OP_UNSUPPORTED,
    );
    await attempt(() => sftp.close(resume));
    assert.deepEqual(await readdir(join(home, 'out')), [], 'nothing published, no partial left');
    // From the start again, it goes through: more than the sealing thread's 4 MiB ring (native/aead/src/seipd.c)
    // and not a whole number of its 64 KiB parts.
    const whole = Buffer.concat([data, randomBytes(5 * 1024 * 1024 + 7)]);
    const again = await sftp.open('/out/gap.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
    // Pipelined 32 KiB writes, as clients send them.
    const writes: Promise<unknown>[] = [];
    for (let at = 0; at < whole.length; at += 32 * 1024)
      writes.push(sftp.write(again, at, whole.subarray(at, at + 32 * 1024)));
    await Promise.all(writes);
    await sftp.close(again);
    assert.deepEqual(await readdir(join(home, 'out')), ['gap.bin.pgp']);
    const out = join(work, 'gap.out');
    const r = await partner.run(['--output', out, '--decrypt', join(home, 'out', 'gap.bin.pgp')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(out)).equals(whole), 'gpg --decrypt gives back the upload');
  } finally {
    sftp.end();
  }
});

test('an upload into a folder whose key was removed fails as a server failure and stores nothing', async () => {
  const admin = server.running.context.admin;
  await admin.keys.pgp.import(systemActor(), {
    name: 'temp',
    data: Buffer.from(await stranger.exportPublic(strangerFpr)),
  });
  const home = await server.homeOf('bob');
  await mkdir(join(home, 'gone'), { recursive: true });
  await admin.users.set(systemActor(), { name: 'bob', pgp: ['/gone=encrypt:temp'] });
  await admin.keys.pgp.remove(systemActor(), 'temp');
  const sftp = await RawSftp.connect({ port: server.port, username: 'bob', password: 'bob-secret' });
  try {
    const refused = await attempt(() => sftp.put('/gone/x.bin', Buffer.from('secret')));
    assert.ok(!refused.ok && refused.error instanceof SftpRefusal);
    assert.equal(refused.error.code, FX.FAILURE);
    assert.deepEqual(await readdir(join(home, 'gone')), []);
  } finally {
    sftp.end();
  }
});

test('decrypt-on-download serves the plaintext of stored messages, with its size in listings and reads at any offset', async () => {
  const admin = server.running.context.admin;
  await server.addUser('carol', { password: 'carol-secret' });
  const home = await server.homeOf('carol');
  await mkdir(join(home, 'vault'), { recursive: true });
  await admin.users.set(systemActor(), { name: 'carol', pgp: ['/vault=encrypt:ferry;decrypt-on-download'] });
  const plain = randomBytes(3 * 1024 * 1024 + 11);
  const sftp = await RawSftp.connect({ port: server.port, username: 'carol', password: 'carol-secret' });
  try {
    const up = await sftp.open('/vault/doc.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
    for (let at = 0; at < plain.length; at += 32 * 1024)
      await sftp.write(up, at, plain.subarray(at, at + 32 * 1024));
    await sftp.close(up);
    assert.deepEqual(await readdir(join(home, 'vault')), ['.ferry-part.pgp-size.doc.bin.pgp', 'doc.bin.pgp']);
    const stored = await readFile(join(home, 'vault', 'doc.bin.pgp'));
    assert.equal(stored.indexOf(plain.subarray(0, 64)), -1, 'stored encrypted');
    assert.deepEqual(await sftp.list('/vault'), ['doc.bin.pgp']);
    assert.equal((await sftp.stat('/vault/doc.bin.pgp')).size, plain.length);
    assert.deepEqual(await sftp.get('/vault/doc.bin.pgp'), plain);
    // Forward skips decrypt and discard; going back restarts the decryption.
    const handle = await sftp.open('/vault/doc.bin.pgp', FXF.READ);
    assert.deepEqual(await sftp.read(handle, 2_000_000, 1000), plain.subarray(2_000_000, 2_001_000));
    assert.deepEqual(await sftp.read(handle, 10, 100), plain.subarray(10, 110));
    assert.equal(await sftp.read(handle, plain.length, 100), null);
    await sftp.close(handle);
  } finally {
    sftp.end();
  }
  // OpenSSH's get sees the same.
  const key = await makeClientKey(work, 'ed25519', 'id_carol');
  await admin.users.addKeys(systemActor(), 'carol', key.publicText);
  const r = await sftpBatch({
    port: server.port,
    user: 'carol',
    identity: key.privatePath,
    batch: 'get /vault/doc.bin.pgp carol.out\n',
    cwd: work,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readFile(join(work, 'carol.out')), plain);

  // Modified on disk: the download fails at the integrity check instead of ending cleanly.
  const storedPath = join(home, 'vault', 'doc.bin.pgp');
  const bytes = await readFile(storedPath);
  const at = bytes.length - 30;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  await writeFile(storedPath, bytes);
  const again = await RawSftp.connect({ port: server.port, username: 'carol', password: 'carol-secret' });
  try {
    const failed = await attempt(() => again.get('/vault/doc.bin.pgp'));
    assert.ok(!failed.ok && failed.error instanceof SftpRefusal, 'the download fails');
    assert.equal(failed.error.code, FX.FAILURE);
  } finally {
    again.end();
  }
});
