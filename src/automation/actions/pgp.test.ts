// The encrypt and decrypt rule actions against real GnuPG: what a rule encrypts gpg decrypts (and verifies), what
// gpg encrypts and signs a rule decrypts; refused messages leave no plaintext anywhere; the core's rules apply.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Gpg, makeGpg } from '../../../test/helpers/gpg.js';
import { createFileSessionFactory } from '../../core/file-session.js';
import { EventBus } from '../../events/bus.js';
import type { TransferEvent } from '../../events/types.js';
import { pgpKeyMaterial } from '../../key-manager/pgp-key-source.js';
import { PgpKeyManager } from '../../key-manager/pgp-keys.js';
import { MasterKey } from '../../keys/sealing.js';
import { rootLogger } from '../../logger.js';
import { localHomeFs } from '../../vfs/local/local-fs.js';
import type { PgpDecryptAction, PgpEncryptAction, RuleAction } from '../types.js';
import { contextOf, deliveryOf, makeUserHomes, ruleOf, type UserHomes } from './action-fixture.js';
import { createPgpRunners } from './pgp.js';

const log = rootLogger.child({ logger: 'test' }, { level: 'silent' });
const MARKER = 'PLAINTEXT-MARKER-7f3c';

let homes: UserHomes;
let partner: Gpg;
let stranger: Gpg;
let manager: PgpKeyManager;
let runners: ReturnType<typeof createPgpRunners>;
let ferryFpr: string;
let partnerFpr: string;
let strangerFpr: string;

before(async () => {
  homes = await makeUserHomes();
  manager = new PgpKeyManager(homes.store.pgpKeys, MasterKey.load(undefined, join(homes.base, 'master.key')));
  runners = createPgpRunners({
    ...homes,
    users: homes.store.users,
    log,
    keys: pgpKeyMaterial(() => manager),
  });
  partner = await makeGpg(homes.base, 'partner');
  stranger = await makeGpg(homes.base, 'stranger');
  partnerFpr = await partner.generate('Partner <partner@example.com>');
  strangerFpr = await stranger.generate('Stranger <stranger@example.com>');
  ferryFpr = (await manager.generate({ name: 'ferry', email: 'mft@example.com' })).fingerprint;
  await manager.import('partner', Buffer.from(await partner.exportPublic(partnerFpr)));
  await manager.import('stranger', Buffer.from(await stranger.exportPublic(strangerFpr)));
  // The partner knows Ferry's public key: it encrypts to it and checks its signatures.
  const ferryPublic = (await manager.resolve(ferryFpr)).publicArmored;
  assert.equal((await partner.run(['--import'], ferryPublic)).code, 0);
  await homes.addUser('alice');
  await homes.addUser('viewer', { '/': ['list', 'download'] });
});

after(async () => {
  await partner.dispose();
  await stranger.dispose();
  await homes.cleanup();
});

function uploaded(path: string, user = 'alice') {
  const cut = path.lastIndexOf('/');
  return {
    event: 'upload',
    user,
    path,
    name: path.slice(cut + 1),
    dir: path.slice(0, cut) || '/',
    sessionId: 'ssh-1',
  };
}

async function run(action: PgpEncryptAction | PgpDecryptAction, path: string, user = 'alice') {
  const rule = ruleOf('pgp-rule', [action as RuleAction]);
  const delivery = deliveryOf(rule, uploaded(path, user));
  const outcome =
    action.kind === 'encrypt'
      ? await runners.encrypt.run(action, delivery, contextOf(rule))
      : await runners.decrypt.run(action, delivery, contextOf(rule));
  return { outcome, delivery };
}

/** Every file under `dir`, hidden partials included, holding `needle`. */
async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if ((await readFile(path)).includes(needle)) found.push(path);
  }
  return found;
}

test('encrypt writes {{path}}.pgp through the core as the user; gpg decrypts it and verifies Ferry signed it', async () => {
  const home = join(homes.homesDir, 'alice');
  const plain = `${MARKER}\n${'row,1,2,3\n'.repeat(50_000)}`;
  await writeFile(join(home, 'report.csv'), plain);
  const action: PgpEncryptAction = {
    kind: 'encrypt',
    encryptTo: [partnerFpr],
    signWith: ferryFpr,
    removeSource: true,
  };
  const { outcome, delivery } = await run(action, '/report.csv');
  assert.deepEqual(outcome, { ok: true, output: 'encrypted /report.csv to /report.csv.pgp and removed it' });
  assert.equal(existsSync(join(home, 'report.csv')), false);
  const decrypted = await partner.run(['--decrypt', join(home, 'report.csv.pgp')]);
  assert.equal(decrypted.code, 0, decrypted.stderr);
  assert.equal(decrypted.stdout, plain);
  assert.match(decrypted.stderr, /Good signature from "mft@example.com"|Good signature/);
  assert.deepEqual(await filesHolding(home, MARKER), []);
  // Written by alice's session marked as the rule's: audited as hers, and it cannot fire the rule again.
  const upload = homes.events.find(
    (e): e is TransferEvent =>
      e.type === 'transfer' && e.direction === 'upload' && e.path === '/report.csv.pgp',
  );
  assert.equal(upload?.username, 'alice');
  assert.equal(upload?.sessionId, `rule:pgp-rule:${delivery.id}`);
  // Delivered again after it went through: found done.
  assert.equal(
    (await run(action, '/report.csv')).outcome.output,
    '/report.csv was already encrypted to /report.csv.pgp',
  );
});

test('unsigned and armored messages, to a target template, decrypt with gpg too', async () => {
  const home = join(homes.homesDir, 'alice');
  await writeFile(join(home, 'a.bin'), Buffer.alloc(300_000, 7));
  const binary = await run(
    { kind: 'encrypt', encryptTo: [partnerFpr], target: '/outbox/{{name}}.gpg' },
    '/a.bin',
  );
  assert.equal(binary.outcome.ok, true, binary.outcome.error);
  const armored = await run({ kind: 'encrypt', encryptTo: [partnerFpr], armor: true }, '/a.bin');
  assert.equal(armored.outcome.ok, true, armored.outcome.error);
  assert.match(await readFile(join(home, 'a.bin.asc'), 'utf8'), /^-----BEGIN PGP MESSAGE-----/);
  for (const file of ['outbox/a.bin.gpg', 'a.bin.asc']) {
    const out = join(homes.base, 'out.bin');
    const decrypted = await partner.run(['--output', out, '--decrypt', join(home, file)]);
    assert.equal(decrypted.code, 0, decrypted.stderr);
    assert.ok((await readFile(out)).equals(Buffer.alloc(300_000, 7)), file);
  }
  // The source stays unless removeSource says otherwise.
  assert.equal(existsSync(join(home, 'a.bin')), true);
});

test('decrypt publishes what gpg encrypted and signed for Ferry, with the signer checked', async () => {
  const home = join(homes.homesDir, 'alice');
  const plain = `${MARKER} statement\n`.repeat(20_000);
  await writeFile(join(home, 'statement.txt'), plain);
  const made = await partner.run([
    '--trust-model',
    'always',
    '--sign',
    '--encrypt',
    '--recipient',
    ferryFpr,
    '--output',
    join(home, 'statement.txt.gpg'),
    join(home, 'statement.txt'),
  ]);
  assert.equal(made.code, 0, made.stderr);
  await writeFile(join(home, 'statement.txt'), '');
  const { outcome } = await run(
    { kind: 'decrypt', verifyWith: [partnerFpr], removeSource: true },
    '/statement.txt.gpg',
  );
  assert.deepEqual(outcome, {
    ok: true,
    output: `decrypted /statement.txt.gpg to /statement.txt, signed by ${partnerFpr}, source removed`,
  });
  assert.equal(await readFile(join(home, 'statement.txt'), 'utf8'), plain);
  assert.equal(existsSync(join(home, 'statement.txt.gpg')), false);
});

test('a tampered message or a wrong signer fails for good and leaves no plaintext, not even in a partial', async () => {
  const home = join(homes.homesDir, 'alice');
  const secret = `${MARKER}-refused\n`.repeat(30_000);
  await writeFile(join(homes.base, 'secret.txt'), secret);
  const encrypt = (out: string) =>
    partner.run([
      '--trust-model',
      'always',
      '--sign',
      '--encrypt',
      '--recipient',
      ferryFpr,
      '--output',
      join(home, out),
      join(homes.base, 'secret.txt'),
    ]);
  assert.equal((await encrypt('tampered.pgp')).code, 0);
  const bytes = await readFile(join(home, 'tampered.pgp'));
  bytes[bytes.length - 40]! ^= 0x01;
  await writeFile(join(home, 'tampered.pgp'), bytes);
  const tampered = await run({ kind: 'decrypt' }, '/tampered.pgp');
  assert.equal(tampered.outcome.ok, false);
  assert.equal(tampered.outcome.permanent, true, tampered.outcome.error);
  assert.equal((await encrypt('signed.pgp')).code, 0);
  const wrongSigner = await run({ kind: 'decrypt', verifyWith: [strangerFpr] }, '/signed.pgp');
  assert.equal(wrongSigner.outcome.ok, false);
  assert.equal(wrongSigner.outcome.permanent, true);
  assert.match(wrongSigner.outcome.error ?? '', /signature/);
  assert.equal(existsSync(join(home, 'tampered')), false);
  assert.equal(existsSync(join(home, 'signed')), false);
  assert.deepEqual(await filesHolding(home, `${MARKER}-refused`), []);
  // The ciphertext stays where it was, for the operator to look at.
  assert.equal(existsSync(join(home, 'signed.pgp')), true);
});

test('with uploadMode direct, a tampered message leaves an existing target as it was', async () => {
  const home = join(homes.homesDir, 'alice');
  // The same homes through a session factory that writes uploads in place.
  const direct = createPgpRunners({
    ...homes,
    users: homes.store.users,
    log,
    keys: pgpKeyMaterial(() => manager),
    fileSessions: createFileSessionFactory({
      events: new EventBus(),
      logger: log,
      fs: localHomeFs,
      uploadMode: 'direct',
    }),
  });
  await writeFile(join(homes.base, 'direct.txt'), `${MARKER}-direct\n`.repeat(30_000));
  const made = await partner.run([
    ...['--trust-model', 'always', '--encrypt', '--recipient', ferryFpr],
    ...['--output', join(home, 'direct.txt.pgp'), join(homes.base, 'direct.txt')],
  ]);
  assert.equal(made.code, 0, made.stderr);
  const bytes = await readFile(join(home, 'direct.txt.pgp'));
  bytes[bytes.length - 40]! ^= 0x01;
  await writeFile(join(home, 'direct.txt.pgp'), bytes);
  await writeFile(join(home, 'direct.txt'), 'the previous version\n');
  const action: PgpDecryptAction = { kind: 'decrypt', decryptWith: [ferryFpr] };
  const rule = ruleOf('pgp-direct', [action]);
  const outcome = await direct.decrypt.run(
    action,
    deliveryOf(rule, uploaded('/direct.txt.pgp')),
    contextOf(rule),
  );
  assert.equal(outcome.ok, false);
  assert.equal(outcome.permanent, true, outcome.error);
  assert.equal(await readFile(join(home, 'direct.txt'), 'utf8'), 'the previous version\n');
  assert.deepEqual(await filesHolding(home, `${MARKER}-direct`), []);
  // An intact message replaces it once checked.
  const again = await partner.run([
    ...['--trust-model', 'always', '--yes', '--encrypt', '--recipient', ferryFpr],
    ...['--output', join(home, 'direct.txt.pgp'), join(homes.base, 'direct.txt')],
  ]);
  assert.equal(again.code, 0, again.stderr);
  const good = await direct.decrypt.run(
    action,
    deliveryOf(rule, uploaded('/direct.txt.pgp')),
    contextOf(rule),
  );
  assert.equal(good.ok, true, good.error);
  assert.equal(await readFile(join(home, 'direct.txt'), 'utf8'), `${MARKER}-direct\n`.repeat(30_000));
});

test("the user's permissions apply: a user who may not upload gets nothing written", async () => {
  const home = join(homes.homesDir, 'viewer');
  await writeFile(join(home, 'doc.txt'), 'hello');
  const { outcome } = await run({ kind: 'encrypt', encryptTo: [partnerFpr] }, '/doc.txt', 'viewer');
  assert.equal(outcome.ok, false);
  assert.equal(outcome.permanent, true);
  assert.match(outcome.error ?? '', /ERR_PERMISSION_DENIED/);
  assert.deepEqual(await readdir(home), ['doc.txt']);
});

test('a key removed from the Key Manager since the rule was saved fails the action for good', async () => {
  const home = join(homes.homesDir, 'alice');
  await writeFile(join(home, 'late.txt'), 'x');
  const { outcome } = await run({ kind: 'encrypt', encryptTo: ['0'.repeat(40)] }, '/late.txt');
  assert.equal(outcome.ok, false);
  assert.equal(outcome.permanent, true);
  assert.match(outcome.error ?? '', /no OpenPGP key/);
  assert.equal(existsSync(join(home, 'late.txt.pgp')), false);
});

test("decryptWith limits which of Ferry's keys may open a message: one for another key is refused", async () => {
  const home = join(homes.homesDir, 'alice');
  const other = await manager.generate({ name: 'other', email: 'other@example.com' });
  await writeFile(join(homes.base, 'for-ferry.txt'), `${MARKER}-scoped\n`);
  const made = await partner.run([
    ...['--trust-model', 'always', '--encrypt', '--recipient', ferryFpr],
    ...['--output', join(home, 'for-ferry.pgp'), join(homes.base, 'for-ferry.txt')],
  ]);
  assert.equal(made.code, 0, made.stderr);
  const scoped = await run({ kind: 'decrypt', decryptWith: [other.fingerprint] }, '/for-ferry.pgp');
  assert.equal(scoped.outcome.ok, false);
  assert.equal(scoped.outcome.permanent, true);
  assert.equal(existsSync(join(home, 'for-ferry')), false);
  const allowed = await run({ kind: 'decrypt', decryptWith: [ferryFpr] }, '/for-ferry.pgp');
  assert.equal(allowed.outcome.ok, true, allowed.outcome.error);
  assert.equal(await readFile(join(home, 'for-ferry'), 'utf8'), `${MARKER}-scoped\n`);
});
