// `ferry rules add|set --action encrypt|decrypt` as an operator uses it: keys named as the Key Manager names
// them are stored as fingerprints; a missing key, a signing key without its private half or a stray flag is
// refused with one line and nothing is saved.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { type Gpg, makeGpg } from './helpers/gpg.js';

let dir: string;
let dataDir: string;
let partner: Gpg;
let partnerFpr: string;
let ferryFpr: string;

function ferry(args: string[]) {
  return runFerry([...args, '--data-dir', dataDir]);
}

async function ok(args: string[]): Promise<string> {
  const r = await ferry(args);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-rules-pgp-'));
  dataDir = join(dir, 'data');
  partner = await makeGpg(dir, 'partner');
  partnerFpr = await partner.generate('Bank <mft@bank.example>');
  await writeFile(join(dir, 'bank.asc'), await partner.exportPublic(partnerFpr));
  await ok(['init']);
  await ok(['keys', 'pgp', 'import', join(dir, 'bank.asc'), '--name', 'bank']);
  await ok(['keys', 'pgp', 'generate', 'ferry', '--email', 'mft@example.com']);
  const listed = JSON.parse(await ok(['keys', 'pgp', 'list', '--json'])) as {
    name: string;
    fingerprint: string;
  }[];
  ferryFpr = listed.find((k) => k.name === 'ferry')!.fingerprint;
});

after(async () => {
  await partner.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('encrypt and decrypt rules store the keys as fingerprints and show what they do', async () => {
  await ok([
    ...['rules', 'add', 'seal-out', '--on', 'upload', '--path', '/out/**', '--action', 'encrypt'],
    ...['--encrypt-to', 'bank', '--sign-with', 'ferry', '--remove-source'],
  ]);
  const sealed = JSON.parse(await ok(['rules', 'show', 'seal-out', '--json']));
  assert.deepEqual(sealed.actions, [
    { kind: 'encrypt', encryptTo: [partnerFpr], signWith: ferryFpr, removeSource: true },
  ]);
  await ok([
    ...['rules', 'add', 'open-in', '--on', 'upload', '--path', '/in/*.pgp', '--action', 'decrypt'],
    ...['--verify', partnerFpr.toLowerCase(), '--decrypt-with', 'ferry', '--target', '/clear/{{name}}.txt'],
  ]);
  const opened = JSON.parse(await ok(['rules', 'show', 'open-in', '--json']));
  assert.deepEqual(opened.actions, [
    { kind: 'decrypt', decryptWith: [ferryFpr], verifyWith: [partnerFpr], target: '/clear/{{name}}.txt' },
  ]);
  assert.match(
    await ok(['rules', 'show', 'open-in']),
    new RegExp(
      `decrypt with ${ferryFpr}, signature by ${partnerFpr} required, into /clear/\\{\\{name\\}\\}\\.txt`,
    ),
  );
  // Changing the action's flags keeps it an encrypt action, keys resolved again.
  await ok(['rules', 'set', 'seal-out', '--armor']);
  assert.equal(JSON.parse(await ok(['rules', 'show', 'seal-out', '--json'])).actions[0].armor, true);
});

test('bad encrypt and decrypt rules are refused with one line, and nothing is saved', async () => {
  const before = await ok(['rules', 'list', '--json']);
  const refused = async (args: string[], message: RegExp) => {
    const r = await ferry(['rules', 'add', 'bad', '--on', 'upload', ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  };
  await refused(['--action', 'encrypt', '--encrypt-to', 'nosuch'], /encryptTo: no OpenPGP key named nosuch/);
  await refused(
    ['--action', 'encrypt', '--encrypt-to', 'bank', '--sign-with', 'bank'],
    /signWith: OpenPGP key bank has no private half/,
  );
  await refused(['--action', 'encrypt'], /encryptTo/);
  await refused(
    ['--action', 'decrypt', '--encrypt-to', 'bank'],
    /--encrypt-to is not used by --action decrypt/,
  );
  await refused(['--action', 'encrypt', '--encrypt-to', 'bank', '--verify', 'bank'], /--verify is not used/);
  await refused(
    ['--action', 'decrypt', '--verify', 'nosuch', '--decrypt-with', 'ferry'],
    /verifyWith: no OpenPGP key named nosuch/,
  );
  // Without it every private key Ferry holds would be tried.
  await refused(
    ['--action', 'decrypt', '--verify', 'bank'],
    /decryptWith: a decrypt action must name the key\(s\) it decrypts with \(--decrypt-with KEY\)/,
  );
  await refused(
    ['--action', 'decrypt', '--decrypt-with', 'bank'],
    /decryptWith: OpenPGP key bank has no private half, so Ferry cannot decrypt with it/,
  );
  await refused(['--action', 'encrypt', '--encrypt-to', 'bank', '--target', 'relative'], /target/);
  const login = await ferry(['rules', 'add', 'bad', '--on', 'login', '--action', 'decrypt']);
  assert.match(login.stderr, /decrypt needs a file event/);
  assert.equal(await ok(['rules', 'list', '--json']), before);
});
