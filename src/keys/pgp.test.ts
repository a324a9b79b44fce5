import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ReadableStream } from 'node:stream/web';
import { after, test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { Secret } from '../util/secret.js';
import { KeyParseError } from './key-errors.js';
import { decryptWithKey, describePgpKey, encryptForRecipients, generatePgpKey, readPgpKey } from './pgp.js';

// GnuPG's agent socket lives in GNUPGHOME, whose path must stay short; tmpdir() + a short name is.
const dir = mkdtempSync(join(tmpdir(), 'ferry-pgp-'));
const gnupgHome = join(dir, 'g');
mkdirSync(gnupgHome, { mode: 0o700 });
const env = { ...process.env, GNUPGHOME: gnupgHome };
after(() => {
  try {
    execFileSync('gpgconf', ['--kill', 'all'], { env, stdio: 'ignore' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

let counter = 0;
const tempPath = (name: string): string => join(dir, `${counter++}-${name}`);

function gpg(args: string[], input?: string | Buffer): Buffer {
  return execFileSync('gpg', ['--batch', '--quiet', '--no-tty', '--pinentry-mode', 'loopback', ...args], {
    env,
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The `gpg --with-colons` record of a key: algorithm number, expiry (epoch seconds or ''), fingerprint. */
function gpgListing(
  fingerprint: string,
  secret = false,
): { algo: string; expires: string; fpr: string; kind: string } {
  const out = gpg([secret ? '--list-secret-keys' : '--list-keys', '--with-colons', fingerprint]).toString();
  const rows = out.split('\n').map((l) => l.split(':'));
  const primary = rows.find((r) => r[0] === 'pub' || r[0] === 'sec');
  const fpr = rows.find((r) => r[0] === 'fpr');
  assert.ok(primary && fpr, out);
  return { kind: primary[0]!, algo: primary[3]!, expires: primary[6]!, fpr: fpr[9]! };
}

function gpgGenerate(
  uid: string,
  algo: 'default' | 'future-default' | 'rsa2048',
  passphrase: string,
): string {
  gpg(['--passphrase', passphrase, '--quick-gen-key', uid, algo, 'default', 'never']);
  const out = gpg(['--list-keys', '--with-colons', uid]).toString();
  const fpr = out.split('\n').find((l) => l.startsWith('fpr:'));
  assert.ok(fpr);
  return fpr.split(':')[9]!;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function collect(stream: Readable | ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

test('a curve25519 key we generate is a v4 key that gpg imports, public and private, with our fingerprint and expiry', async () => {
  const key = await generatePgpKey({
    name: 'Ferry Outbound',
    email: 'ferry@example.test',
    expiresInDays: 30,
  });
  assert.equal(key.algorithm, 'ed25519');
  assert.deepEqual(
    key.subkeys.map((s) => s.algorithm),
    ['cv25519'],
  );
  assert.deepEqual(key.userIds, ['Ferry Outbound <ferry@example.test>']);
  assert.equal(key.keyId, key.fingerprint.slice(-16));
  assert.ok(key.expires && Math.abs(key.expires.getTime() - key.created.getTime() - 30 * 86_400_000) < 1000);
  assert.match(
    describePgpKey(key),
    new RegExp(`^pub ed25519/${key.keyId} \\d{4}-\\d\\d-\\d\\d \\[expires: .*\\] Ferry Outbound`),
  );

  const packets = gpg(['--list-packets'], key.publicArmored).toString();
  assert.match(packets, /:public key packet:\n\s+version 4, algo 22/);
  gpg(['--import'], key.publicArmored);
  const listed = gpgListing(key.fingerprint);
  assert.equal(listed.fpr, key.fingerprint);
  assert.equal(listed.algo, '22'); // EdDSA
  assert.equal(Number(listed.expires), Math.floor(key.expires.getTime() / 1000));

  gpg(['--import'], key.privateArmored.reveal());
  assert.equal(gpgListing(key.fingerprint, true).kind, 'sec');
});

test('gpg decrypts what we encrypt to our own key, a 3 MiB buffer and an armored stream', async () => {
  const key = await generatePgpKey({
    name: 'Ferry At Rest',
    email: 'rest@example.test',
    passphrase: new Secret('pgp pass'),
  });
  gpg(['--passphrase', 'pgp pass', '--import'], key.privateArmored.reveal());
  const plain = randomBytes(3 * 1024 * 1024);
  const binary = await encryptForRecipients(plain, [key.publicArmored]);
  assert.ok(binary instanceof Uint8Array);
  const file = tempPath('msg.gpg');
  writeFileSync(file, binary);
  assert.equal(sha256(gpg(['--passphrase', 'pgp pass', '--decrypt', file])), sha256(plain));
  // gpg sees an MDC-protected (SEIPDv1) packet, not AEAD, which GnuPG 2.2 could not read.
  assert.match(
    gpg(['--passphrase', 'pgp pass', '--list-packets', file]).toString(),
    /:encrypted data packet:\n\s+length: .*\n\s+mdc_method: 2/,
  );

  const armoredStream = await encryptForRecipients(
    Readable.from([plain.subarray(0, 1000), plain.subarray(1000)]),
    [key.publicArmored],
    {
      armor: true,
    },
  );
  assert.ok(armoredStream instanceof Readable);
  const armored = await collect(armoredStream);
  assert.match(armored.toString('latin1'), /^-----BEGIN PGP MESSAGE-----/);
  assert.equal(sha256(gpg(['--passphrase', 'pgp pass', '--decrypt'], armored)), sha256(plain));
});

test('we decrypt what gpg encrypts to our key, binary, armored and compressed, whole or streamed', async () => {
  const key = await generatePgpKey({ name: 'Ferry Inbound', email: 'in@example.test', type: 'curve25519' });
  gpg(['--import'], key.publicArmored);
  const plain = Buffer.concat([randomBytes(2 * 1024 * 1024), Buffer.alloc(1024 * 1024, 'a')]);
  const file = tempPath('plain.bin');
  writeFileSync(file, plain);
  const encryptArgs = ['--trust-model', 'always', '--recipient', key.fingerprint, '--encrypt'];
  const binary = gpg([...encryptArgs, '--compress-algo', 'none', '--output', '-', file]);
  const armored = gpg([...encryptArgs, '--armor', '--compress-algo', 'zlib', '--output', '-', file]);

  for (const message of [binary, armored]) {
    const out = await decryptWithKey(new Uint8Array(message), key.privateArmored);
    assert.ok(out instanceof Uint8Array);
    assert.equal(sha256(out), sha256(plain));
  }
  const encFile = tempPath('from-gpg.gpg');
  writeFileSync(encFile, armored);
  const streamed = await decryptWithKey(
    createReadStream(encFile, { highWaterMark: 4096 }),
    key.privateArmored,
  );
  assert.ok(streamed instanceof Readable);
  const outFile = tempPath('decrypted.bin');
  await pipeline(streamed, createWriteStream(outFile));
  assert.equal(sha256(readFileSync(outFile)), sha256(plain));
  const web = await decryptWithKey(
    Readable.toWeb(Readable.from([binary])) as ReadableStream<Uint8Array>,
    key.privateArmored,
  );
  assert.ok(web instanceof ReadableStream);
  assert.equal(sha256(await collect(web)), sha256(plain));
});

for (const algo of ['future-default', 'default'] as const) {
  test(`a gpg-generated key (${algo}) exported by gpg imports here; we encrypt to it and gpg decrypts`, async () => {
    const uid = `Partner ${algo} <partner-${algo}@example.test>`;
    const fingerprint = gpgGenerate(uid, algo, 'partner pass');
    const publicArmored = gpg(['--export', '--armor', fingerprint]).toString();
    const secretArmored = gpg([
      '--passphrase',
      'partner pass',
      '--export-secret-keys',
      '--armor',
      fingerprint,
    ]).toString();

    const pub = await readPgpKey(publicArmored);
    assert.equal(pub.fingerprint, fingerprint);
    assert.equal(pub.hasPrivate, false);
    assert.equal(pub.privateArmored, null);
    assert.deepEqual(pub.userIds, [uid]);
    assert.equal(pub.expires, null);
    const binaryPub = await readPgpKey(gpg(['--export', fingerprint]));
    assert.equal(binaryPub.fingerprint, fingerprint);

    const locked = await readPgpKey(secretArmored);
    assert.equal(locked.hasPrivate, true);
    assert.equal(locked.decrypted, false);
    const unlocked = await readPgpKey(secretArmored, new Secret('partner pass'));
    assert.equal(unlocked.decrypted, true);
    await assert.rejects(readPgpKey(secretArmored, new Secret('wrong')), {
      reason: 'wrong-passphrase',
      message: 'wrong passphrase',
    });

    const plain = randomBytes(4 * 1024 * 1024 + 17);
    const chunks = Array.from({ length: 65 }, (_, i) => plain.subarray(i * 65_536, (i + 1) * 65_536));
    const encrypted = await encryptForRecipients(Readable.from(chunks), [pub.publicArmored]);
    const encFile = tempPath('to-partner.gpg');
    await pipeline(encrypted, createWriteStream(encFile));
    assert.equal(sha256(gpg(['--passphrase', 'partner pass', '--decrypt', encFile])), sha256(plain));

    // Its private key works here too: gpg encrypts, we decrypt with the still-protected export and its passphrase.
    const msg = gpg(
      ['--trust-model', 'always', '--recipient', fingerprint, '--encrypt'],
      plain.subarray(0, 5000),
    );
    const out = await decryptWithKey(new Uint8Array(msg), locked.privateArmored!, new Secret('partner pass'));
    assert.ok(Buffer.from(out).equals(plain.subarray(0, 5000)));
    await assert.rejects(decryptWithKey(new Uint8Array(msg), locked.privateArmored!), {
      reason: 'passphrase-required',
    });
  });
}

test('an rsa4096 key we generate imports into gpg and round-trips a message to several recipients', async () => {
  const rsa = await generatePgpKey({ name: 'Ferry RSA', email: 'rsa@example.test', type: 'rsa4096' });
  const other = await generatePgpKey({ name: 'Ferry Other', email: 'other@example.test' });
  assert.equal(rsa.algorithm, 'rsa4096');
  gpg(['--import'], rsa.privateArmored.reveal());
  assert.equal(gpgListing(rsa.fingerprint).algo, '1');
  const plain = randomBytes(100_000);
  const message = await encryptForRecipients(plain, [rsa.publicArmored, other.publicArmored]);
  const file = tempPath('multi.gpg');
  writeFileSync(file, message);
  assert.equal(sha256(gpg(['--decrypt', file])), sha256(plain));
  assert.equal(sha256(await decryptWithKey(message, other.privateArmored)), sha256(plain));
});

test('wrong keys, damaged messages and non-keys are refused with one clear line', async () => {
  const mine = await generatePgpKey({ name: 'Mine', email: 'mine@example.test' });
  const theirs = await generatePgpKey({ name: 'Theirs', email: 'theirs@example.test' });
  const plain = randomBytes(200_000);
  const message = await encryptForRecipients(plain, [theirs.publicArmored]);
  await assert.rejects(decryptWithKey(message, mine.privateArmored), {
    message: 'the message is not encrypted to this key',
  });

  const damaged = Buffer.from(message);
  damaged[damaged.length - 30] = (damaged[damaged.length - 30] ?? 0) ^ 0xff;
  await assert.rejects(decryptWithKey(new Uint8Array(damaged), theirs.privateArmored), (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError);
    assert.match(err.message, /modified or is damaged|cannot decrypt the message/);
    return true;
  });
  // Streamed, the failure comes from the call or from the stream, whichever openpgp reaches first; mapped the same.
  await assert.rejects(
    async () => collect(await decryptWithKey(Readable.from([damaged]), theirs.privateArmored)),
    (err: unknown) =>
      err instanceof InvalidArgumentError && /modified or is damaged|cannot decrypt/.test(err.message),
  );

  await assert.rejects(decryptWithKey(message, new Secret(theirs.publicArmored)), { reason: 'public-key' });
  await assert.rejects(readPgpKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== x'), (err: unknown) => {
    assert.ok(err instanceof KeyParseError);
    assert.equal(err.reason, 'unsupported-format');
    return true;
  });
  const truncated = mine.publicArmored.slice(0, mine.publicArmored.length / 2);
  await assert.rejects(readPgpKey(truncated), (err: unknown) => {
    assert.ok(err instanceof KeyParseError);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
  await assert.rejects(encryptForRecipients(plain, []), InvalidArgumentError);
  await assert.rejects(generatePgpKey({ name: 'x', email: 'not an address' }), InvalidArgumentError);
});
