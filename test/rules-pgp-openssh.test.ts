// OpenPGP rule actions end to end: an OpenSSH sftp upload into a real Ferry fires an encrypt rule whose output
// GnuPG decrypts and verifies, and a message GnuPG encrypted and signed for Ferry is decrypted by a rule.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { systemActor } from '../src/admin/actor.js';
import type { DeliveryRecord } from '../src/store/types.js';
import { type Gpg, makeGpg } from './helpers/gpg.js';
import { sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PASSWORD = 'rules-pgp-password';
let server: TestServer;
let work: string;
let partner: Gpg;
let partnerFpr: string;
let ferryFpr: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-rules-pgp-'));
  server = await startTestServer();
  partner = await makeGpg(work, 'partner');
  partnerFpr = await partner.generate('Bank <mft@bank.example>');
  const admin = server.running.context.admin;
  await admin.keys.pgp.import(systemActor(), {
    name: 'bank',
    data: Buffer.from(await partner.exportPublic(partnerFpr)),
  });
  const ferryKey = await admin.keys.pgp.generate(systemActor(), {
    name: 'ferry',
    email: 'ferry@example.com',
  });
  ferryFpr = ferryKey.fingerprint;
  assert.equal((await partner.run(['--import'], ferryKey.publicArmored)).code, 0);
  await server.addUser('alice', { password: PASSWORD });
  const home = await server.homeOf('alice');
  await mkdir(join(home, 'out'), { recursive: true });
  await mkdir(join(home, 'in'), { recursive: true });
  // Keys by name, as an operator types them; stored as fingerprints.
  await admin.rules.add(systemActor(), {
    name: 'seal-out',
    events: ['upload'],
    conditions: { paths: ['/out/**'], status: 'ok' },
    actions: [{ kind: 'encrypt', encryptTo: ['bank'], signWith: 'ferry', removeSource: true }],
  });
  await admin.rules.add(systemActor(), {
    name: 'open-in',
    events: ['upload'],
    conditions: { paths: ['/in/*.gpg'], status: 'ok' },
    actions: [{ kind: 'decrypt', decryptWith: ['ferry'], verifyWith: ['bank'], removeSource: true }],
  });
  await server.running.automation.refresh();
});

after(async () => {
  await partner?.dispose();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function put(local: string, remote: string): Promise<void> {
  const r = await sftpBatch({
    port: server.port,
    user: 'alice',
    password: PASSWORD,
    batch: `put ${local} ${remote}\n`,
    cwd: work,
  });
  assert.equal(r.code, 0, r.stderr);
}

async function settled(rule: string): Promise<DeliveryRecord> {
  const end = Date.now() + 30_000;
  for (;;) {
    const [d] = await server.running.context.store.deliveries.list({ rule });
    if (d?.status === 'succeeded' || d?.status === 'dead') return d;
    if (Date.now() > end) throw new Error(`delivery of ${rule} is ${d?.status ?? 'missing'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('an upload into /out is encrypted by the rule for the bank; gpg decrypts and verifies it', async () => {
  const plain = 'id,amount\n'.repeat(100_000);
  await writeFile(join(work, 'payments.csv'), plain);
  await put(join(work, 'payments.csv'), '/out/payments.csv');
  const delivery = await settled('seal-out');
  assert.equal(delivery.status, 'succeeded', JSON.stringify(delivery));
  const home = await server.homeOf('alice');
  assert.equal(existsSync(join(home, 'out', 'payments.csv')), false, 'the plaintext is removed');
  // The message the rule wrote is an upload under /out too, but by the rule's own session: it fires nothing.
  assert.equal((await server.running.context.store.deliveries.list({ rule: 'seal-out' })).length, 1);
  assert.equal(existsSync(join(home, 'out', 'payments.csv.pgp.pgp')), false);
  const out = join(work, 'payments.decrypted');
  const decrypted = await partner.run(['--output', out, '--decrypt', join(home, 'out', 'payments.csv.pgp')]);
  assert.equal(decrypted.code, 0, decrypted.stderr);
  assert.match(decrypted.stderr, /Good signature from "ferry/);
  assert.equal(await readFile(out, 'utf8'), plain);
});

test('a file gpg encrypted and signed for Ferry, uploaded into /in, is decrypted there by the rule', async () => {
  const plain = 'statement line\n'.repeat(50_000);
  await writeFile(join(work, 'statement.txt'), plain);
  const made = await partner.run([
    ...['--trust-model', 'always', '--sign', '--encrypt', '--recipient', ferryFpr],
    ...['--output', join(work, 'statement.txt.gpg'), join(work, 'statement.txt')],
  ]);
  assert.equal(made.code, 0, made.stderr);
  await put(join(work, 'statement.txt.gpg'), '/in/statement.txt.gpg');
  const delivery = await settled('open-in');
  assert.equal(delivery.status, 'succeeded', JSON.stringify(delivery));
  const home = await server.homeOf('alice');
  assert.equal(await readFile(join(home, 'in', 'statement.txt'), 'utf8'), plain);
  assert.equal(existsSync(join(home, 'in', 'statement.txt.gpg')), false);
});
