import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { KeyParseError } from './key-errors.js';
import { parseKrl } from './openssh-krl.js';
import { sha256Fingerprint } from './ssh-keys.js';
import { wireString, wireUint32 } from './ssh-wire.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-krl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string): string {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file]);
  return file;
}
const blobOf = (file: string) => Buffer.from(readFileSync(file, 'utf8').split(' ')[1]!, 'base64');

/** A KRL made by ssh-keygen -k from spec lines, signed for `ca` (omitted: a KRL section for any CA). */
function krl(lines: string[], ca?: string): Buffer {
  const spec = join(dir, 'spec');
  writeFileSync(spec, `${lines.join('\n')}\n`);
  const out = join(dir, 'krl');
  rmSync(out, { force: true });
  execFileSync('ssh-keygen', ['-k', '-f', out, ...(ca ? ['-s', `${ca}.pub`] : []), spec], {
    stdio: 'ignore',
  });
  return readFileSync(out);
}

const ca = keygen('ca');
const user = keygen('user');
const caFingerprint = sha256Fingerprint(blobOf(`${ca}.pub`));
const userFingerprint = sha256Fingerprint(blobOf(`${user}.pub`));

test('a KRL from ssh-keygen -k reads as serials of its CA, key ids and key fingerprints', () => {
  const entries = parseKrl(
    krl(
      ['serial: 7', 'serial: 10-12', 'id: lost-laptop', `key: ${readFileSync(`${user}.pub`, 'utf8').trim()}`],
      ca,
    ),
  );
  const serials = entries.filter((e) => e.kind === 'serial');
  assert.deepEqual(
    serials.map((e) => e.value),
    ['7', '10', '11', '12'],
  );
  assert.ok(serials.every((e) => e.kind === 'serial' && e.caFingerprint === caFingerprint));
  assert.deepEqual(
    entries.filter((e) => e.kind === 'key-id').map((e) => [e.value, 'caFingerprint' in e && e.caFingerprint]),
    [['lost-laptop', caFingerprint]],
  );
  assert.deepEqual(
    entries.filter((e) => e.kind === 'fingerprint').map((e) => e.value),
    [userFingerprint],
  );
});

test('a KRL revoking by SHA256 hash names the key fingerprint as ssh-keygen -lf prints it', () => {
  const entries = parseKrl(krl([`hash: ${userFingerprint}`]));
  assert.deepEqual(entries, [{ kind: 'fingerprint', value: userFingerprint }]);
});

test('scattered serials (a bitmap section) are read bit by bit', () => {
  const serials = [3, 5, 8, 13, 21, 34, 55, 89, 144, 233];
  const entries = parseKrl(
    krl(
      serials.map((n) => `serial: ${n}`),
      ca,
    ),
  );
  assert.deepEqual(
    entries.map((e) => Number(e.value)).sort((a, b) => a - b),
    serials,
  );
});

/** A one-line KeyParseError. */
function refuses(data: Buffer, pattern: RegExp): void {
  assert.throws(
    () => parseKrl(data),
    (err: unknown) =>
      err instanceof KeyParseError && !err.message.includes('\n') && pattern.test(err.message),
  );
}

test('malformed KRLs are one-line errors: not a KRL, truncated, an unknown section, SHA-1 fingerprints, too many', () => {
  const good = krl(['serial: 7', 'id: x'], ca);
  refuses(Buffer.from('ssh-ed25519 AAAA'), /not an OpenSSH KRL file/);
  for (const cut of [9, 20, good.length - 1]) refuses(good.subarray(0, cut), /truncated|malformed/);
  const header = good.subarray(0, 8 + 4 + 8 + 8 + 8 + 4 + 4);
  refuses(Buffer.concat([header, Buffer.from([77]), wireString('x')]), /unknown section 77/);
  refuses(Buffer.concat([header, Buffer.from([3]), wireString(wireString(Buffer.alloc(20)))]), /SHA-1/);
  const range = Buffer.concat([Buffer.from([0x21]), wireString(Buffer.alloc(16, 0xff))]);
  range.writeBigUInt64BE(0n, 5);
  const huge = Buffer.concat([
    header,
    Buffer.from([1]),
    wireString(Buffer.concat([wireString(''), wireString(''), range])),
  ]);
  refuses(huge, /serial range of more than/);
  refuses(Buffer.concat([good.subarray(0, 8), wireUint32(2), good.subarray(12)]), /format version 2/);
});
