import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { parseAuthorizedKey, parseAuthorizedKeys } from './ssh-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keygen(type: string, bits?: number): { pub: string; listed: string } {
  const file = join(dir, `k-${type}-${bits ?? 0}-${Math.random().toString(36).slice(2)}`);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(bits ? ['-b', String(bits)] : []),
    '-N',
    '',
    '-C',
    'me@test',
    '-f',
    file,
  ]);
  return {
    pub: readFileSync(`${file}.pub`, 'utf8'),
    listed: execFileSync('ssh-keygen', ['-lf', `${file}.pub`]).toString(),
  };
}

for (const [type, bits] of [
  ['ed25519', undefined],
  ['ecdsa', 256],
  ['ecdsa', 384],
  ['rsa', 3072],
] as const) {
  test(`${type}${bits ? `-${bits}` : ''} keys parse with the fingerprint and size ssh-keygen -lf shows`, () => {
    const { pub, listed } = keygen(type, bits);
    const key = parseAuthorizedKey(pub);
    const [size, fingerprint] = listed.split(' ');
    assert.equal(key.fingerprint, fingerprint);
    assert.equal(String(key.bits), size);
    assert.equal(key.comment, 'me@test');
  });
}

test('authorized_keys options, including quoted spaces, are kept and do not break parsing', () => {
  const { pub, listed } = keygen('ed25519');
  const line = `command="echo hello world",no-pty,from="10.0.0.0/8" ${pub.trim()}`;
  const key = parseAuthorizedKey(line);
  assert.equal(key.options, 'command="echo hello world",no-pty,from="10.0.0.0/8"');
  assert.equal(key.fingerprint, listed.split(' ')[1]);
  const many = parseAuthorizedKeys(`# comment\n\n${line}\n${keygen('ecdsa', 256).pub}`);
  assert.equal(many.length, 2);
});

test('weak, unsupported and garbage keys are refused with a clear error', () => {
  assert.throws(() => parseAuthorizedKey(keygen('rsa', 1024).pub), /too weak/);
  assert.throws(() => parseAuthorizedKey('ssh-dss AAAAB3NzaC1kc3MAAACBAP== x'), InvalidArgumentError);
  assert.throws(() => parseAuthorizedKey('ssh-ed25519 not*base64'), InvalidArgumentError);
  assert.throws(() => parseAuthorizedKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA=='), InvalidArgumentError);
  assert.throws(
    () => parseAuthorizedKey('no-pty,command="unterminated ssh-ed25519 AAAA'),
    InvalidArgumentError,
  );
  assert.throws(() => parseAuthorizedKey(''), InvalidArgumentError);
  // A key whose declared type disagrees with its blob.
  const ed = keygen('ed25519').pub.split(' ')[1];
  assert.throws(() => parseAuthorizedKey(`ssh-rsa ${ed}`), InvalidArgumentError);
});
