// SeipdWriter against real GnuPG: what it writes for a gpg-made key decrypts to the same bytes at every size
// around its part boundaries, for several recipients, and gpg refuses it once a byte is changed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Gpg, makeGpg } from '../../test/helpers/gpg.js';
import { SeipdWriter } from './pgp-seipd-writer.js';

let dir: string;
let alice: Gpg;
let bob: Gpg;
let aliceKey: string;
let bobKey: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-seipd-'));
  alice = await makeGpg(dir, 'alice');
  bob = await makeGpg(dir, 'bob');
  aliceKey = await alice.exportPublic(await alice.generate('Alice <alice@example.com>'));
  bobKey = await bob.exportPublic(await bob.generate('Bob <bob@example.com>'));
});

after(async () => {
  await alice.dispose();
  await bob.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** The message for `data`, pushed in uneven pieces as SFTP writes arrive. */
async function encrypt(data: Buffer, recipients: string[]): Promise<Buffer> {
  const { head, writer } = await SeipdWriter.start(recipients);
  const out = [head];
  for (let at = 0, step = 1; at < data.length; step = (step * 7919) % 40_000 || 1) {
    const n = Math.min(data.length - at, step);
    out.push(...writer.push(data.subarray(at, at + n)));
    at += n;
  }
  out.push(...writer.finish());
  return Buffer.concat(out);
}

async function gpgDecrypt(
  gpg: Gpg,
  message: Buffer,
): Promise<{ code: number; plain?: Buffer; stderr: string }> {
  const input = join(dir, `m-${randomBytes(4).toString('hex')}.pgp`);
  const output = `${input}.out`;
  await writeFile(input, message);
  try {
    const result = await gpg.run(['--output', output, '--decrypt', input]);
    if (result.code !== 0) return { code: result.code, stderr: result.stderr };
    return { code: 0, plain: await readFile(output), stderr: result.stderr };
  } finally {
    await rm(input, { force: true });
    await rm(output, { force: true });
  }
}

test('gpg decrypts the message to the same bytes at every size around the 64 KiB parts', async () => {
  // 6 bytes of literal header and 18 of prefix shift the parts: sizes on both sides of each boundary.
  for (const size of [
    0, 1, 191, 192, 8383, 8384, 65_511, 65_512, 65_529, 65_530, 65_536, 131_072, 131_073, 700_001,
  ]) {
    const data = randomBytes(size);
    const decrypted = await gpgDecrypt(alice, await encrypt(data, [aliceKey]));
    assert.equal(decrypted.code, 0, `size ${size}: ${decrypted.stderr}`);
    assert.ok(decrypted.plain?.equals(data), `size ${size}: other bytes came back`);
  }
});

test('every recipient can decrypt it', async () => {
  const data = randomBytes(300_000);
  const message = await encrypt(data, [aliceKey, bobKey]);
  for (const gpg of [alice, bob]) {
    const decrypted = await gpgDecrypt(gpg, message);
    assert.equal(decrypted.code, 0, decrypted.stderr);
    assert.ok(decrypted.plain?.equals(data));
  }
});

test('gpg refuses the message when one byte of it changed (the MDC covers all of it)', async () => {
  const data = randomBytes(200_000);
  const message = await encrypt(data, [aliceKey]);
  for (const at of [message.length - 5, message.length >> 1, message.length - 30]) {
    const tampered = Buffer.from(message);
    tampered[at]! ^= 0x01;
    const decrypted = await gpgDecrypt(alice, tampered);
    assert.notEqual(decrypted.code, 0, `a change at ${at} went unnoticed`);
  }
});

test('a message is finished once; more data after that is refused', async () => {
  const { writer } = await SeipdWriter.start([aliceKey]);
  writer.finish();
  assert.throws(() => writer.push(Buffer.from('late')), /already finished/);
});
