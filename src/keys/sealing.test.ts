import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../errors.js';
import { Secret } from '../util/secret.js';
import { MasterKey } from './sealing.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-seal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a generated master key file is private, reused, and opens what it sealed', () => {
  const file = join(dir, 'master.key');
  const first = MasterKey.load(undefined, file);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const sealed = first.seal(Buffer.from('private key bytes'), 'host-key');
  assert.ok(!sealed.includes(Buffer.from('private key bytes').toString('base64')));
  const again = MasterKey.load(undefined, file);
  assert.equal(again.open(sealed, 'host-key').reveal().toString(), 'private key bytes');
  assert.equal(readFileSync(file, 'utf8').trim().length, 44);
});

test('a sealed secret does not open with another key, another label, or after tampering', () => {
  const a = MasterKey.load(new Secret(randomBytes(32).toString('hex')), join(dir, 'unused'));
  const b = MasterKey.load(new Secret(randomBytes(32).toString('base64')), join(dir, 'unused'));
  const sealed = a.seal(Buffer.from('x'.repeat(100)), 'client-key');
  assert.throws(() => b.open(sealed, 'client-key'), /wrong master key or tampered/);
  assert.throws(() => a.open(sealed, 'host-key'), /wrong master key or tampered/);
  const raw = Buffer.from(sealed.slice(3), 'base64');
  raw[20] = (raw[20] ?? 0) ^ 1;
  assert.throws(() => a.open(`v1:${raw.toString('base64')}`, 'client-key'), /tampered/);
  assert.throws(() => a.open('v9:abc', 'client-key'), /unknown format/);
  assert.throws(() => a.open('v1:abc', 'client-key'), /truncated/);
});

test('bad master keys are refused with a clear message', () => {
  assert.throws(() => MasterKey.load(new Secret('too-short'), join(dir, 'unused')), ConfigError);
  const loose = join(dir, 'loose.key');
  MasterKey.load(undefined, loose);
  chmodSync(loose, 0o644);
  assert.throws(() => MasterKey.load(undefined, loose), /readable by group or others/);
});
