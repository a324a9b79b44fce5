// OpenSSH key revocation lists (PROTOCOL.krl, `ssh-keygen -k`): read into plain revocations, bounds-checked.
import { KeyParseError } from './key-errors.js';
import { sha256Fingerprint } from './ssh-keys.js';
import { WireReader } from './ssh-wire.js';

const MAGIC = Buffer.from('SSHKRL\n\0', 'latin1');
const SECTION_CERTIFICATES = 1;
const SECTION_EXPLICIT_KEY = 2;
const SECTION_FINGERPRINT_SHA1 = 3;
const SECTION_SIGNATURE = 4;
const SECTION_FINGERPRINT_SHA256 = 5;
const SECTION_EXTENSION = 255;
const CERT_SERIAL_LIST = 0x20;
const CERT_SERIAL_RANGE = 0x21;
const CERT_SERIAL_BITMAP = 0x22;
const CERT_KEY_ID = 0x23;
const CERT_EXTENSION = 0x39;

/** Serials expanded from ranges and bitmaps, at most: a KRL revoking more is refused rather than half-read. */
export const MAX_KRL_ENTRIES = 100_000;

/** One revocation read from a KRL; serials are scoped to a CA (its SHA256 fingerprint, '*' for any CA). */
export type KrlEntry =
  | { readonly kind: 'serial'; readonly value: string; readonly caFingerprint: string }
  | { readonly kind: 'key-id'; readonly value: string; readonly caFingerprint: string }
  | { readonly kind: 'fingerprint'; readonly value: string };

const bad = (message: string) => new KeyParseError('malformed', `malformed KRL: ${message}`);

function uint64(r: WireReader): bigint {
  return r.bytes(8).readBigUInt64BE();
}

function byte(r: WireReader): number {
  return r.bytes(1)[0]!;
}

/** Reads a KRL file's revocations; SHA-1 fingerprint sections are refused (Ferry keys revocations by SHA256). */
export function parseKrl(data: Buffer): KrlEntry[] {
  if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC))
    throw new KeyParseError('unsupported-format', 'not an OpenSSH KRL file (ssh-keygen -k)');
  const r = new WireReader(data.subarray(MAGIC.length), 'KRL');
  const version = r.uint32();
  if (version !== 1) throw bad(`format version ${version} (1 is read)`);
  uint64(r); // krl_version
  uint64(r); // generated_date
  uint64(r); // flags
  r.string(); // reserved
  r.string(); // comment
  const out: KrlEntry[] = [];
  const add = (entry: KrlEntry) => {
    if (out.length >= MAX_KRL_ENTRIES) throw bad(`more than ${MAX_KRL_ENTRIES} revocations`);
    out.push(entry);
  };
  while (r.remaining > 0) {
    const type = byte(r);
    const body = new WireReader(r.string(), 'KRL section');
    if (type === SECTION_CERTIFICATES) readCertificates(body, add);
    else if (type === SECTION_EXPLICIT_KEY) {
      while (body.remaining > 0) add({ kind: 'fingerprint', value: sha256Fingerprint(body.string()) });
    } else if (type === SECTION_FINGERPRINT_SHA256) {
      while (body.remaining > 0) {
        const hash = body.string();
        if (hash.length !== 32) throw bad('a SHA256 fingerprint is not 32 bytes');
        add({ kind: 'fingerprint', value: `SHA256:${hash.toString('base64').replace(/=+$/, '')}` });
      }
    } else if (type === SECTION_FINGERPRINT_SHA1) {
      throw new KeyParseError(
        'unsupported-format',
        'KRL revokes keys by SHA-1 fingerprint, which Ferry cannot match: revoke them with --fingerprint SHA256:…',
      );
    } else if (type === SECTION_SIGNATURE || type === SECTION_EXTENSION) {
      // OpenSSH itself no longer checks KRL signatures; extensions are optional by definition.
    } else {
      throw bad(`unknown section ${type}`);
    }
  }
  return out;
}

function readCertificates(body: WireReader, add: (entry: KrlEntry) => void): void {
  const caKey = body.string();
  body.string(); // reserved
  const caFingerprint = caKey.length === 0 ? '*' : sha256Fingerprint(caKey);
  const serial = (n: bigint) => add({ kind: 'serial', value: n.toString(), caFingerprint });
  while (body.remaining > 0) {
    const type = byte(body);
    const sub = new WireReader(body.string(), 'KRL certificate section');
    if (type === CERT_SERIAL_LIST) {
      while (sub.remaining > 0) serial(uint64(sub));
    } else if (type === CERT_SERIAL_RANGE) {
      const [low, high] = [uint64(sub), uint64(sub)];
      if (high < low) throw bad('serial range ends before it starts');
      if (high - low >= BigInt(MAX_KRL_ENTRIES)) throw bad(`a serial range of more than ${MAX_KRL_ENTRIES}`);
      for (let n = low; n <= high; n++) serial(n);
    } else if (type === CERT_SERIAL_BITMAP) {
      const offset = uint64(sub);
      const bitmap = sub.mpint();
      // Bit i (counting from the least significant bit of the big-endian number) revokes serial offset + i.
      for (let i = 0; i < bitmap.length * 8; i++) {
        const at = bitmap[bitmap.length - 1 - Math.floor(i / 8)]!;
        if ((at >> (i % 8)) & 1) serial(offset + BigInt(i));
      }
    } else if (type === CERT_KEY_ID) {
      while (sub.remaining > 0) add({ kind: 'key-id', value: sub.text(), caFingerprint });
    } else if (type !== CERT_EXTENSION) {
      throw bad(`unknown certificate section ${type}`);
    }
    if (sub.remaining !== 0 && type !== CERT_EXTENSION) throw bad('trailing bytes in a certificate section');
  }
}
