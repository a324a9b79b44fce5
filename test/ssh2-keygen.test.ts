// patches/ssh2: ssh2's generateKeyPairSync('ed25519') stripped every leading zero byte of the public key, so one
// key in 256 came out 31 bytes long, which OpenSSH and Ferry's parser rightly refuse (tests that generate keys
// failed at random). Only the BIT STRING's unused-bits byte is dropped now.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { parseAuthorizedKey } from '../src/keys/ssh-keys.js';

test('every ed25519 key ssh2 generates has a 32-byte public key that parses (3000 keys: ~11 start with 0x00)', () => {
  let leadingZero = 0;
  for (let i = 0; i < 3000; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    const blob = Buffer.from(pair.public.split(' ')[1]!, 'base64');
    // string "ssh-ed25519" (4 + 11 bytes), then string key (4 + 32 bytes)
    assert.equal(blob.readUInt32BE(15), 32, `key ${i}: ${pair.public}`);
    if (blob[19] === 0) leadingZero++;
    parseAuthorizedKey(pair.public);
  }
  // 3000 keys without one starting with 0x00 happens with probability (255/256)^3000 < 1e-5.
  assert.ok(leadingZero > 0, 'no key with a leading zero byte was generated: the case was not exercised');
});

test('ECDSA keys ssh2 generates keep their uncompressed point (65 bytes for P-256) and parse', () => {
  for (let i = 0; i < 50; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
    const blob = Buffer.from(pair.public.split(' ')[1]!, 'base64');
    // string "ecdsa-sha2-nistp256" (4 + 19), string "nistp256" (4 + 8), string point (4 + 65)
    assert.equal(blob.readUInt32BE(35), 65);
    assert.equal(blob[39], 0x04);
    parseAuthorizedKey(pair.public);
  }
});
