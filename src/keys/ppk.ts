// PuTTY private key files (.ppk, PuTTY manual appendix C): read versions 2 and 3, write version 3.

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { createRequire } from 'node:module';
import type { Secret } from '../util/secret.js';
import { DSA_UNSUPPORTED, KeyParseError, PASSPHRASE_REQUIRED, WRONG_PASSPHRASE } from './key-errors.js';
import { isEcdsaCurve, publicBlob, type SshKeyMaterial, sshAlgorithm } from './key-material.js';
import { WireReader, wireMpint, wireString, wireUint32 } from './ssh-wire.js';

const HEADER_RE = /^PuTTY-User-Key-File-(\d+): *(.*)$/;
// Argon2 parameters come from the file; bound them so a hostile file cannot ask for gigabytes or hours.
const MAX_ARGON2_MEMORY_KIB = 1024 * 1024;
const MAX_ARGON2_PASSES = 1000;
const MAX_ARGON2_PARALLELISM = 64;
/** What we write: PuTTYgen's default memory, and passes that take well under a second here. */
const WRITE_ARGON2 = { memoryKiB: 8192, passes: 8, parallelism: 1 };
// @node-rs/argon2's Algorithm is an ambient const enum, which verbatimModuleSyntax cannot import; its values are fixed.
const ARGON2_FLAVOURS: Readonly<Record<string, 0 | 1 | 2>> = { Argon2d: 0, Argon2i: 1, Argon2id: 2 };

export function isPpk(text: string): boolean {
  return /^\s*PuTTY-User-Key-File-/.test(text);
}

/** Splits the file into `Key: value` headers and the base64 line blocks that follow Public-/Private-Lines. */
class PpkLines {
  readonly #lines: string[];
  #pos = 0;

  constructor(text: string) {
    this.#lines = text.trim().split(/\r\n|\r|\n/);
  }

  header(name: string): string {
    const line = this.#lines[this.#pos];
    if (line === undefined)
      throw new KeyParseError('truncated', `truncated key: .ppk file ends before '${name}'`);
    const colon = line.indexOf(':');
    if (colon === -1 || line.slice(0, colon) !== name) {
      throw new KeyParseError(
        'malformed',
        `malformed .ppk file: expected '${name}' on line ${this.#pos + 1}`,
      );
    }
    this.#pos++;
    return line.slice(colon + 1).trim();
  }

  peekName(): string | undefined {
    return this.#lines[this.#pos]?.split(':')[0];
  }

  block(name: string): Buffer {
    const count = Number(this.header(name));
    if (!Number.isInteger(count) || count < 0 || count > 4096) {
      throw new KeyParseError('malformed', `malformed .ppk file: bad ${name} count`);
    }
    if (this.#pos + count > this.#lines.length)
      throw new KeyParseError('truncated', 'truncated key: .ppk file ends early');
    const b64 = this.#lines.slice(this.#pos, this.#pos + count).join('');
    this.#pos += count;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64))
      throw new KeyParseError('malformed', `malformed .ppk file: ${name} are not base64`);
    return Buffer.from(b64, 'base64');
  }
}

function refuseType(type: string): never {
  if (type === 'ssh-dss') throw new KeyParseError('unsupported-type', DSA_UNSUPPORTED);
  throw new KeyParseError('unsupported-type', `unsupported key type '${type.slice(0, 60)}'`);
}

/** Combines the public blob and PuTTY's private blob into key components (the layouts differ per algorithm). */
function materialFromBlobs(algorithm: string, pub: Buffer, priv: Buffer): SshKeyMaterial {
  const pr = new WireReader(pub, 'public key');
  const pv = new WireReader(priv, 'private key');
  const type = pr.text();
  if (type !== algorithm)
    throw new KeyParseError('malformed', 'malformed .ppk file: header and public key types differ');
  if (type === 'ssh-ed25519') {
    const publicKey = Buffer.from(pr.string());
    // PuTTY stores the 32-byte seed as a fixed-length string.
    const seed = Buffer.from(pv.string());
    return { kind: 'ed25519', seed, publicKey };
  }
  if (type.startsWith('ecdsa-sha2-')) {
    const curve = pr.text();
    if (!isEcdsaCurve(curve) || type !== `ecdsa-sha2-${curve}`) refuseType(type);
    return { kind: 'ecdsa', curve, q: Buffer.from(pr.string()), d: Buffer.from(pv.mpint()) };
  }
  if (type === 'ssh-rsa') {
    const e = Buffer.from(pr.mpint());
    const n = Buffer.from(pr.mpint());
    const [d, p, q, iqmp] = [pv.mpint(), pv.mpint(), pv.mpint(), pv.mpint()].map((b) => Buffer.from(b)) as [
      Buffer,
      Buffer,
      Buffer,
      Buffer,
    ];
    return { kind: 'rsa', n, e, d, p, q, iqmp };
  }
  refuseType(type);
}

function privateBlob(m: SshKeyMaterial): Buffer {
  if (m.kind === 'ed25519') return wireString(m.seed);
  if (m.kind === 'ecdsa') return wireMpint(m.d);
  return Buffer.concat([m.d, m.p, m.q, m.iqmp].map(wireMpint));
}

function macInput(
  algorithm: string,
  encryption: string,
  comment: string,
  pub: Buffer,
  privPlain: Buffer,
): Buffer {
  return Buffer.concat([
    wireString(algorithm),
    wireString(encryption),
    wireString(comment),
    wireString(pub),
    wireString(privPlain),
  ]);
}

interface Argon2Params {
  readonly flavour: string;
  readonly memoryKiB: number;
  readonly passes: number;
  readonly parallelism: number;
  readonly salt: Buffer;
}

/** PPK v3: Argon2 output split into AES-256 key, CBC IV and HMAC-SHA-256 key. */
function deriveV3(passphrase: string, a: Argon2Params): { key: Buffer; iv: Buffer; macKey: Buffer } {
  // Required here, not imported: only PPK v3 files need argon2, and loading it costs every command start-up time.
  const { hashRawSync } = createRequire(import.meta.url)(
    '@node-rs/argon2',
  ) as typeof import('@node-rs/argon2');
  const out = hashRawSync(Buffer.from(passphrase, 'utf8'), {
    algorithm: ARGON2_FLAVOURS[a.flavour],
    memoryCost: a.memoryKiB,
    timeCost: a.passes,
    parallelism: a.parallelism,
    salt: a.salt,
    outputLen: 80,
  });
  return { key: out.subarray(0, 32), iv: out.subarray(32, 48), macKey: out.subarray(48, 80) };
}

/** PPK v2: SHA-1 based key (IV zero) and MAC key. */
function deriveV2(passphrase: string): { key: Buffer; iv: Buffer; macKey: Buffer } {
  const pass = Buffer.from(passphrase, 'utf8');
  const h = (i: number): Buffer => createHash('sha1').update(wireUint32(i)).update(pass).digest();
  return {
    key: Buffer.concat([h(0), h(1)]).subarray(0, 32),
    iv: Buffer.alloc(16),
    macKey: createHash('sha1').update('putty-private-key-file-mac-key').update(pass).digest(),
  };
}

function readArgon2Params(lines: PpkLines): Argon2Params {
  const flavour = lines.header('Key-Derivation');
  if (!(flavour in ARGON2_FLAVOURS))
    throw new KeyParseError(
      'unsupported-format',
      `unsupported .ppk key derivation '${flavour.slice(0, 40)}'`,
    );
  const num = (name: string, max: number): number => {
    const v = Number(lines.header(name));
    if (!Number.isInteger(v) || v < 1 || v > max)
      throw new KeyParseError('malformed', `malformed .ppk file: ${name} out of range`);
    return v;
  };
  const memoryKiB = num('Argon2-Memory', MAX_ARGON2_MEMORY_KIB);
  const passes = num('Argon2-Passes', MAX_ARGON2_PASSES);
  const parallelism = num('Argon2-Parallelism', MAX_ARGON2_PARALLELISM);
  const saltHex = lines.header('Argon2-Salt');
  if (!/^([0-9a-f]{2})+$/i.test(saltHex))
    throw new KeyParseError('malformed', 'malformed .ppk file: Argon2-Salt is not hex');
  return { flavour, memoryKiB, passes, parallelism, salt: Buffer.from(saltHex, 'hex') };
}

export interface PpkKeyFile {
  readonly material: SshKeyMaterial;
  readonly comment: string;
}

/** Reads a PuTTY .ppk (v2 or v3), decrypting with `passphrase` when the file is encrypted; the MAC is always checked. */
export function readPpk(text: string, passphrase?: Secret<string>): PpkKeyFile {
  const lines = new PpkLines(text);
  const first = HEADER_RE.exec(text.trim().split(/\r\n|\r|\n/)[0] ?? '');
  if (!first) throw new KeyParseError('malformed', 'malformed .ppk file: no PuTTY-User-Key-File header');
  const version = Number(first[1]);
  if (version !== 2 && version !== 3)
    throw new KeyParseError(
      'unsupported-format',
      `.ppk format version ${first[1]} is not supported (2 or 3)`,
    );
  const algorithm = lines.header(`PuTTY-User-Key-File-${version}`);
  if (algorithm === 'ssh-dss') throw new KeyParseError('unsupported-type', DSA_UNSUPPORTED);
  const encryption = lines.header('Encryption');
  if (encryption !== 'none' && encryption !== 'aes256-cbc') {
    throw new KeyParseError('unsupported-format', `unsupported .ppk encryption '${encryption.slice(0, 40)}'`);
  }
  const comment = lines.header('Comment');
  const pub = lines.block('Public-Lines');
  const argon2 = version === 3 && encryption !== 'none' ? readArgon2Params(lines) : undefined;
  let priv = lines.block('Private-Lines');
  const macHex = lines.header(lines.peekName() === 'Private-Hash' ? 'Private-Hash' : 'Private-MAC');
  if (!/^[0-9a-f]+$/i.test(macHex))
    throw new KeyParseError('malformed', 'malformed .ppk file: Private-MAC is not hex');

  const encrypted = encryption !== 'none';
  if (encrypted && !passphrase) throw new KeyParseError('passphrase-required', PASSPHRASE_REQUIRED);
  const pass = encrypted ? passphrase!.reveal() : '';
  const keys = version === 3 ? (argon2 ? deriveV3(pass, argon2) : undefined) : deriveV2(pass);
  if (encrypted) {
    if (priv.length % 16 !== 0)
      throw new KeyParseError('malformed', 'malformed .ppk file: private blob is not block-aligned');
    const d = createDecipheriv('aes-256-cbc', keys!.key, keys!.iv);
    d.setAutoPadding(false);
    priv = Buffer.concat([d.update(priv), d.final()]);
  }
  const macKey = keys?.macKey ?? Buffer.alloc(0);
  const mac = createHmac(version === 3 ? 'sha256' : 'sha1', macKey)
    .update(macInput(algorithm, encryption, comment, pub, priv))
    .digest();
  const expected = Buffer.from(macHex, 'hex');
  if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) {
    throw encrypted
      ? new KeyParseError('wrong-passphrase', WRONG_PASSPHRASE)
      : new KeyParseError(
          'malformed',
          'malformed .ppk file: MAC check failed (the file was modified or damaged)',
        );
  }
  const material = materialFromBlobs(algorithm, pub, priv);
  if (!publicBlob(material).equals(pub))
    throw new KeyParseError('malformed', 'malformed .ppk file: public key does not match');
  return { material, comment };
}

function b64Lines(b: Buffer): string[] {
  return b.toString('base64').match(/.{1,64}/g) ?? [];
}

/** Writes a PuTTY-User-Key-File-3; with a passphrase it is aes256-cbc under Argon2id, as PuTTYgen writes it. */
export function writePpk(
  m: SshKeyMaterial,
  options: { comment?: string; passphrase?: Secret<string> } = {},
): string {
  const algorithm = sshAlgorithm(m);
  const comment = (options.comment ?? '').replace(/[\r\n]/g, ' ');
  const pub = publicBlob(m);
  const pass = options.passphrase?.reveal();
  const encrypted = pass !== undefined && pass !== '';
  const encryption = encrypted ? 'aes256-cbc' : 'none';
  let priv = privateBlob(m);
  const head = [`PuTTY-User-Key-File-3: ${algorithm}`, `Encryption: ${encryption}`, `Comment: ${comment}`];
  head.push(`Public-Lines: ${b64Lines(pub).length}`, ...b64Lines(pub));
  let macKey: Buffer = Buffer.alloc(0);
  let stored = priv;
  if (encrypted) {
    const a: Argon2Params = { flavour: 'Argon2id', ...WRITE_ARGON2, salt: randomBytes(16) };
    const keys = deriveV3(pass, a);
    macKey = keys.macKey;
    const padLen = (16 - (priv.length % 16)) % 16;
    priv = Buffer.concat([priv, randomBytes(padLen)]);
    const c = createCipheriv('aes-256-cbc', keys.key, keys.iv);
    c.setAutoPadding(false);
    stored = Buffer.concat([c.update(priv), c.final()]);
    head.push(
      `Key-Derivation: ${a.flavour}`,
      `Argon2-Memory: ${a.memoryKiB}`,
      `Argon2-Passes: ${a.passes}`,
      `Argon2-Parallelism: ${a.parallelism}`,
      `Argon2-Salt: ${a.salt.toString('hex')}`,
    );
  }
  head.push(`Private-Lines: ${b64Lines(stored).length}`, ...b64Lines(stored));
  const mac = createHmac('sha256', macKey)
    .update(macInput(algorithm, encryption, comment, pub, priv))
    .digest('hex');
  head.push(`Private-MAC: ${mac}`);
  return `${head.join('\n')}\n`;
}
