import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseCipher, hasAesInstructions } from './cipher-choice.js';

// First lines of /proc/cpuinfo as Linux prints them (trimmed).
const EPYC =
  'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme sse sse2 ssse3 pclmulqdq sse4_1 aes avx\n';
const ATOM = 'processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme sse sse2 ssse3 movbe\n';
const GRAVITON =
  'processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n';
const CORTEX_A53_NO_CRYPTO = 'processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\n';
const PI_32BIT =
  'processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\n';

test('AES instructions are read from the flags (x86) or Features (ARM) line; unknown elsewhere', () => {
  assert.equal(hasAesInstructions(EPYC), true);
  assert.equal(hasAesInstructions(ATOM), false);
  assert.equal(hasAesInstructions(GRAVITON), true);
  assert.equal(hasAesInstructions(CORTEX_A53_NO_CRYPTO), false);
  assert.equal(hasAesInstructions(PI_32BIT), false, 'a 32-bit ARM kernel lists neon, not asimd');
  assert.equal(hasAesInstructions(''), undefined);
  assert.equal(hasAesInstructions('processor : 0\nisa : rv64imafdc\n'), undefined);
});

test("'auto' takes ChaCha20-Poly1305 only where AES is known to be slow; a configured cipher is kept", () => {
  assert.equal(chooseCipher('auto', () => EPYC).cipher, 'aes-256-gcm');
  assert.equal(chooseCipher('auto', () => ATOM).cipher, 'chacha20-poly1305');
  assert.match(chooseCipher('auto', () => ATOM).reason, /no AES instructions/);
  assert.equal(chooseCipher('auto', () => CORTEX_A53_NO_CRYPTO).cipher, 'chacha20-poly1305');
  assert.equal(chooseCipher('auto', () => '').cipher, 'aes-256-gcm');
  assert.deepEqual(
    chooseCipher('chacha20-poly1305', () => EPYC),
    {
      cipher: 'chacha20-poly1305',
      reason: 'configured',
    },
  );
  assert.equal(chooseCipher('aes-256-gcm', () => ATOM).cipher, 'aes-256-gcm');
});
