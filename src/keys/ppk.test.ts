import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Secret } from '../util/secret.js';
import {
  exportPrivateKey,
  generateSshKeyPair,
  KeyParseError,
  parsePrivateKey,
  type SshKeyType,
} from './private-keys.js';
import { parseAuthorizedKey } from './ssh-keys.js';

const hasPuttygen = spawnSync('puttygen', ['--version']).status === 0;
const skip = hasPuttygen ? false : 'puttygen is not installed (Debian package putty-tools)';

const dir = mkdtempSync(join(tmpdir(), 'ferry-ppk-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
const tempPath = (name: string): string => join(dir, `${counter++}-${name}`);

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function passFile(pass: string): string {
  const file = tempPath('pass');
  writeFileSync(file, `${pass}\n`, { mode: 0o600 });
  return file;
}

/**
 * What puttygen makes of a .ppk: it converts it to an OpenSSH private key (which needs the MAC and, when encrypted,
 * the passphrase to be right), then ssh-keygen derives the public line from that.
 */
function puttygenPublic(ppkText: string, pass?: string): string {
  const file = tempPath('ours.ppk');
  writeFileSync(file, ppkText, { mode: 0o600 });
  const out = tempPath('converted');
  const passArgs = pass === undefined ? [] : ['--old-passphrase', passFile(pass)];
  run('puttygen', [file, '-O', 'private-openssh-new', '-o', out, ...passArgs]);
  // puttygen keeps the passphrase on the converted file.
  return run('ssh-keygen', ['-y', '-P', pass ?? '', '-f', out]).trim();
}

const CASES: Array<[SshKeyType, number | undefined]> = [
  ['ed25519', undefined],
  ['ecdsa', 256],
  ['ecdsa', 384],
  ['ecdsa', 521],
  ['rsa', 2048],
];

for (const [type, bits] of CASES) {
  const label = `${type}${bits ? `-${bits}` : ''}`;

  test(`puttygen reads the ${label} .ppk v3 files we export, plain and passphrase-protected`, {
    skip,
  }, () => {
    const pair = generateSshKeyPair(type, bits, 'partner key for windows');
    const plain = exportPrivateKey(pair, 'ppk');
    assert.match(
      plain,
      new RegExp(
        `^PuTTY-User-Key-File-3: ${pair.algorithm}\nEncryption: none\nComment: partner key for windows\n`,
      ),
    );
    assert.equal(puttygenPublic(plain), pair.publicLine);

    const locked = exportPrivateKey(pair, 'ppk', { passphrase: new Secret('putty pass'), comment: 'other' });
    assert.match(locked, /Encryption: aes256-cbc\nComment: other\n[\s\S]*Key-Derivation: Argon2id\n/);
    assert.equal(
      puttygenPublic(locked, 'putty pass'),
      `${pair.algorithm} ${pair.publicBlob.toString('base64')} other`,
    );
    assert.throws(() => puttygenPublic(locked, 'wrong'));
    // And both come back to us unchanged.
    assert.equal(parsePrivateKey(plain).sha256, pair.sha256);
    assert.equal(parsePrivateKey(locked, new Secret('putty pass')).sha256, pair.sha256);
  });

  test(`${label} .ppk files written by puttygen (v3 and v2, plain and encrypted) are read`, { skip }, () => {
    const typeArgs = ['-t', type, ...(bits ? ['-b', String(bits)] : [])];
    const v3 = tempPath('v3.ppk');
    run('puttygen', [...typeArgs, '-C', 'made by puttygen', '-o', v3, '--new-passphrase', passFile('')]);
    const expected = parseAuthorizedKey(run('puttygen', [v3, '-O', 'public-openssh']));
    const v3Locked = tempPath('v3-locked.ppk');
    run('puttygen', [v3, '-O', 'private', '-o', v3Locked, '-P', '--new-passphrase', passFile('pp')]);
    const v2 = tempPath('v2.ppk');
    // puttygen refuses a pure format change as "no useful action"; restating the comment counts as one.
    run('puttygen', [v3, '-O', 'private', '-o', v2, '--ppk-param', 'version=2', '-C', 'made by puttygen']);
    const v2Locked = tempPath('v2-locked.ppk');
    run('puttygen', [
      v3,
      '-O',
      'private',
      '-o',
      v2Locked,
      '--ppk-param',
      'version=2',
      '-P',
      '--new-passphrase',
      passFile('pp'),
    ]);
    assert.match(readFileSync(v2, 'utf8'), /^PuTTY-User-Key-File-2:/);

    for (const [file, pass] of [[v3], [v3Locked, 'pp'], [v2], [v2Locked, 'pp']] as const) {
      const pair = parsePrivateKey(readFileSync(file), pass === undefined ? undefined : new Secret(pass));
      assert.equal(pair.sha256, expected.fingerprint, file);
      assert.equal(pair.comment, 'made by puttygen');
      // The key really is the private half: ssh-keygen reads our OpenSSH re-export of it.
      const ossh = tempPath('reexport');
      writeFileSync(ossh, exportPrivateKey(pair, 'openssh'), { mode: 0o600 });
      assert.equal(run('ssh-keygen', ['-lf', ossh]).split(' ')[1], expected.fingerprint);
    }
    for (const file of [v3Locked, v2Locked]) {
      assert.throws(() => parsePrivateKey(readFileSync(file)), { reason: 'passphrase-required' });
      assert.throws(() => parsePrivateKey(readFileSync(file), new Secret('nope')), {
        reason: 'wrong-passphrase',
        message: 'wrong passphrase',
      });
    }
  });
}

test('a .ppk whose text was edited fails its MAC check, and a cut-off one is truncated', () => {
  const pair = generateSshKeyPair('ed25519', undefined, 'honest');
  const ppk = exportPrivateKey(pair, 'ppk');
  const edited = ppk.replace('Comment: honest', 'Comment: forged');
  assert.throws(
    () => parsePrivateKey(edited),
    (err: unknown) => {
      assert.ok(err instanceof KeyParseError);
      assert.equal(err.reason, 'malformed');
      assert.match(err.message, /MAC check failed/);
      return true;
    },
  );
  const cut = ppk.split('\n').slice(0, 5).join('\n');
  assert.throws(() => parsePrivateKey(cut), { reason: 'truncated' });
  assert.throws(() => parsePrivateKey(ppk.replace('PuTTY-User-Key-File-3', 'PuTTY-User-Key-File-1')), {
    reason: 'unsupported-format',
  });
});

test('puttygen turns our .ppk into an OpenSSH key that ssh-keygen accepts', { skip }, () => {
  const pair = generateSshKeyPair('rsa', 2048, 'round trip');
  const ppkFile = tempPath('k.ppk');
  writeFileSync(ppkFile, exportPrivateKey(pair, 'ppk'), { mode: 0o600 });
  const out = tempPath('k.openssh');
  run('puttygen', [ppkFile, '-O', 'private-openssh-new', '-o', out]);
  assert.equal(run('ssh-keygen', ['-lf', out]).split(' ')[1], pair.sha256);
});
