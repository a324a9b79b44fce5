// The encrypted-storage container format: a header holding the file's wrapped data key, then AEAD segments.
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto';
import { FerryError } from '../../errors.js';
import { CIPHER_IDS, type SegmentCipherName, segmentCipher } from './segment-cipher.js';
import type { StorageKeyRing } from './storage-keys.js';

/*
 * Layout (all integers big-endian):
 *   header (96 bytes): magic 'FERRYENC' | version u8 | segment shift u8 (16) | cipher u8 | reserved u8 (0) |
 *     file id (16 random bytes) | key id (8: which key-encryption key wrapped the data key) |
 *     wrap nonce (12) | wrapped data key (32) | wrap tag (16)
 *   segments: nonce (12) | ciphertext (the plaintext's length) | tag (16)
 * Version 1: the segments are AES-256-GCM and the cipher byte is 0. Version 2: the cipher byte names the
 * segments' cipher (CIPHER_IDS: 0 AES-256-GCM, 1 ChaCha20-Poly1305). AES files are still written as version 1,
 * which every Ferry reads; ChaCha20-Poly1305 ones (for CPUs without AES instructions) as version 2. The data key
 * is always wrapped with AES-256-GCM (once per file), under associated data that covers the version and cipher
 * bytes: a header changed to name another cipher fails to unwrap.
 * Every segment but the last holds SEGMENT_SIZE plaintext bytes; the last ("final") holds 0..SEGMENT_SIZE-1,
 * so a file whose size is a multiple of the segment size ends in an empty final segment. The plaintext size
 * therefore follows from the container's length alone (stat is one lstat plus a header check). A segment's
 * associated data is file id | segment index (u64) | final flag: a segment moved within the file, into another
 * file, or a container cut at any length fails authentication.
 *
 * A segment's nonce is stored with it: the low 32 bits of its index (big-endian), then 8 random bytes drawn
 * at each sealing. The index part makes two segments of a file (up to 256 TiB) never share a nonce; the random
 * part is there because a segment is sealed again on every rewrite (resumed uploads extend the final segment,
 * random writes rewrite segments in place), and a nonce derived from the index alone would then repeat under
 * one key, which for GCM and Poly1305 leaks the XOR of the plaintexts and the authentication key. 64 random
 * bits per index: 2^32 rewrites of one segment before a repeat is even likely. Readers take the nonce as stored.
 */

export const MAGIC = Buffer.from('FERRYENC', 'latin1');
/** AES-256-GCM segments, no cipher byte (every Ferry with encrypted storage reads it). */
export const FORMAT_VERSION = 1;
/** The cipher byte names the segments' cipher. */
export const FORMAT_VERSION_CIPHER = 2;
const CIPHER_AT = 10;
export const SEGMENT_SHIFT = 16;
export const SEGMENT_SIZE = 1 << SEGMENT_SHIFT;
export const HEADER_SIZE = 96;
const FILE_ID_BYTES = 16;
const KEY_ID_BYTES = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const DATA_KEY_BYTES = 32;
/** Bytes a segment adds to its plaintext on disk. */
export const SEGMENT_OVERHEAD = NONCE_BYTES + TAG_BYTES;
export const SEALED_SEGMENT_SIZE = SEGMENT_SIZE + SEGMENT_OVERHEAD;
/** The smallest container: a header and an empty final segment. */
export const MIN_CONTAINER_SIZE = HEADER_SIZE + SEGMENT_OVERHEAD;

const KEY_ID_AT = 28;
const WRAP_AAD_END = KEY_ID_AT + KEY_ID_BYTES;

/** A container that fails authentication or is malformed: an I/O error to the client, never wrong data. */
export class IntegrityError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IO', message, options);
  }
}

export interface ContainerKeys {
  readonly fileId: Buffer;
  readonly dataKey: Buffer;
  /** What the segments are sealed with. */
  readonly cipher: SegmentCipherName;
}

/** Whether `bytes` (the first bytes of a file) start with the container magic. */
export function hasMagic(bytes: Buffer): boolean {
  return bytes.length >= MAGIC.length && bytes.subarray(0, MAGIC.length).equals(MAGIC);
}

export function containerSize(plainSize: number): number {
  const full = Math.floor(plainSize / SEGMENT_SIZE);
  return HEADER_SIZE + full * SEALED_SEGMENT_SIZE + (plainSize - full * SEGMENT_SIZE) + SEGMENT_OVERHEAD;
}

/**
 * The plaintext size a container of `size` bytes holds. A length no container can have (a cut final segment)
 * maps to the size whose final segment is missing, so reading the end of that file fails.
 */
export function plainSizeOf(size: number): number {
  const body = Math.max(0, size - HEADER_SIZE);
  const full = Math.floor(body / SEALED_SEGMENT_SIZE);
  const rest = body - full * SEALED_SEGMENT_SIZE;
  return full * SEGMENT_SIZE + Math.max(0, rest - SEGMENT_OVERHEAD);
}

export function segmentOffset(index: number): number {
  return HEADER_SIZE + index * SEALED_SEGMENT_SIZE;
}

/** Index of the final segment of a file of `plainSize` bytes. */
export function finalIndex(plainSize: number): number {
  return Math.floor(plainSize / SEGMENT_SIZE);
}

/** A new file's header: fresh file id and data key, the data key wrapped under the ring's current key. */
export function newHeader(
  ring: StorageKeyRing,
  cipher: SegmentCipherName = 'aes-256-gcm',
): { header: Buffer; keys: ContainerKeys } {
  const keys = { fileId: randomBytes(FILE_ID_BYTES), dataKey: randomBytes(DATA_KEY_BYTES), cipher };
  return { header: encodeHeader(ring, keys), keys };
}

/** The header wrapping `keys.dataKey` under the ring's current key (also how rekey re-wraps in place). */
export function encodeHeader(ring: StorageKeyRing, keys: ContainerKeys): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(header, 0);
  const aes = keys.cipher === 'aes-256-gcm';
  header.writeUInt8(aes ? FORMAT_VERSION : FORMAT_VERSION_CIPHER, 8);
  header.writeUInt8(SEGMENT_SHIFT, 9);
  header.writeUInt8(CIPHER_IDS[keys.cipher], CIPHER_AT);
  keys.fileId.copy(header, 12);
  ring.current.id.copy(header, KEY_ID_AT);
  const nonce = randomBytes(NONCE_BYTES);
  nonce.copy(header, WRAP_AAD_END);
  const cipher = createCipheriv('aes-256-gcm', ring.current.key.reveal(), nonce);
  cipher.setAAD(header.subarray(0, WRAP_AAD_END));
  const wrapped = Buffer.concat([cipher.update(keys.dataKey), cipher.final()]);
  wrapped.copy(header, WRAP_AAD_END + NONCE_BYTES);
  cipher.getAuthTag().copy(header, WRAP_AAD_END + NONCE_BYTES + DATA_KEY_BYTES);
  return header;
}

/** The key id a header names (which key-encryption key wrapped its data key). */
export function headerKeyId(header: Buffer): Buffer {
  return header.subarray(KEY_ID_AT, WRAP_AAD_END);
}

/** The file id and data key of a container header; IntegrityError when it is malformed, tampered or under an unknown key. */
export function decodeHeader(header: Buffer, ring: StorageKeyRing, name: string): ContainerKeys {
  if (header.length < HEADER_SIZE || !hasMagic(header)) {
    throw new IntegrityError(`${name}: encrypted file header is truncated`);
  }
  const version = header.readUInt8(8);
  const cipher = cipherOf(header);
  if (
    (version !== FORMAT_VERSION && version !== FORMAT_VERSION_CIPHER) ||
    header.readUInt8(9) !== SEGMENT_SHIFT ||
    header.readUInt8(CIPHER_AT + 1) !== 0 ||
    !cipher ||
    (version === FORMAT_VERSION && cipher !== 'aes-256-gcm')
  ) {
    throw new IntegrityError(`${name}: encrypted file format ${version} is not one this Ferry reads`);
  }
  const kek = ring.find(headerKeyId(header));
  if (!kek) {
    throw new IntegrityError(
      `${name}: encrypted file's key was wrapped under key ${headerKeyId(header).toString('hex')}, which this server does not hold`,
    );
  }
  const decipher = createDecipheriv(
    'aes-256-gcm',
    kek.key.reveal(),
    header.subarray(WRAP_AAD_END, WRAP_AAD_END + NONCE_BYTES),
  );
  decipher.setAAD(header.subarray(0, WRAP_AAD_END));
  const at = WRAP_AAD_END + NONCE_BYTES;
  decipher.setAuthTag(header.subarray(at + DATA_KEY_BYTES, at + DATA_KEY_BYTES + TAG_BYTES));
  try {
    const dataKey = Buffer.concat([
      decipher.update(header.subarray(at, at + DATA_KEY_BYTES)),
      decipher.final(),
    ]);
    return { fileId: Buffer.from(header.subarray(12, 28)), dataKey, cipher };
  } catch (err) {
    throw new IntegrityError(`${name}: encrypted file header failed authentication`, { cause: err });
  }
}

/** The cipher a header's cipher byte names; undefined for an id this Ferry does not know. */
function cipherOf(header: Buffer): SegmentCipherName | undefined {
  const id = header.readUInt8(CIPHER_AT);
  return (Object.keys(CIPHER_IDS) as SegmentCipherName[]).find((name) => CIPHER_IDS[name] === id);
}

/** Filled for each sealing or opening and used at once (both are synchronous): no allocation per segment. */
const aadScratch = Buffer.alloc(FILE_ID_BYTES + 9);

function segmentAad(fileId: Buffer, index: number, final: boolean): Buffer {
  fileId.copy(aadScratch, 0);
  // The index as a u64: high and low 32 bits (an index stays far below 2^53).
  aadScratch.writeUInt32BE(Math.floor(index / 2 ** 32), FILE_ID_BYTES);
  aadScratch.writeUInt32BE(index >>> 0, FILE_ID_BYTES + 4);
  aadScratch.writeUInt8(final ? 1 : 0, FILE_ID_BYTES + 8);
  return aadScratch;
}

/*
 * The random part of nonces comes from a pool refilled 4 KiB at a time: randomFillSync costs the same few
 * microseconds for 8 bytes as for 4 KiB (a call into OpenSSL's DRBG), once per 64 KiB segment otherwise. Every
 * byte is used once, so the parts stay as random and as unique as drawn one by one.
 */
const NONCE_INDEX_BYTES = 4;
const NONCE_RANDOM_BYTES = NONCE_BYTES - NONCE_INDEX_BYTES;
const NONCE_POOL_BYTES = 4096;
const noncePool = Buffer.alloc(NONCE_POOL_BYTES);
let noncePoolAt = NONCE_POOL_BYTES;

/** Fills `nonce` (NONCE_BYTES) for sealing segment `index`: its index's low 32 bits, then fresh random bytes. */
function freshNonce(nonce: Buffer, index: number): void {
  if (noncePoolAt + NONCE_RANDOM_BYTES > NONCE_POOL_BYTES) {
    randomFillSync(noncePool);
    noncePoolAt = 0;
  }
  nonce.writeUInt32BE(index >>> 0, 0);
  noncePool.copy(nonce, NONCE_INDEX_BYTES, noncePoolAt, noncePoolAt + NONCE_RANDOM_BYTES);
  noncePoolAt += NONCE_RANDOM_BYTES;
}

/**
 * A buffer one segment lives in, laid out as stored: nonce | plaintext (up to SEGMENT_SIZE) | tag. Its
 * plaintext is sealed and opened where it lies (segment-cipher.ts), so a segment costs no new buffer.
 */
export function newSegmentBuffer(): Buffer {
  return Buffer.allocUnsafe(SEALED_SEGMENT_SIZE);
}

/** The plaintext area of a segment buffer (SEGMENT_SIZE bytes after the nonce). */
export function plainArea(buffer: Buffer): Buffer {
  return buffer.subarray(NONCE_BYTES, NONCE_BYTES + SEGMENT_SIZE);
}

/**
 * Seals in place the first `length` plaintext bytes of segment buffer `buffer` under a fresh nonce;
 * returns the sealed segment as stored (a view of `buffer`: nonce | ciphertext | tag). The plaintext is gone.
 */
export function sealSegment(
  keys: ContainerKeys,
  index: number,
  final: boolean,
  buffer: Buffer,
  length: number,
): Buffer {
  const nonce = buffer.subarray(0, NONCE_BYTES);
  freshNonce(nonce, index);
  const end = NONCE_BYTES + length;
  segmentCipher.seal(
    keys.dataKey,
    nonce,
    segmentAad(keys.fileId, index, final),
    buffer.subarray(NONCE_BYTES, end),
    buffer.subarray(end, end + TAG_BYTES),
    CIPHER_IDS[keys.cipher],
  );
  return buffer.subarray(0, end + TAG_BYTES);
}

/**
 * The associated data that opening segment `index` checks, for opening elsewhere (segment-jobs.ts): shared
 * scratch, valid until the next sealing or opening on this thread; the native call copies it at once.
 */
export function openingAad(keys: ContainerKeys, index: number, final: boolean): Buffer {
  return segmentAad(keys.fileId, index, final);
}

/**
 * Opens in place a stored segment read into the start of a segment buffer; returns its plaintext (a view of
 * the same memory). IntegrityError (and the bytes zeroed) when it was altered, moved, cut, or is not the
 * final one it claims to be.
 */
export function openSegment(
  keys: ContainerKeys,
  index: number,
  final: boolean,
  sealed: Buffer,
  name: string,
): Buffer {
  if (sealed.length < SEGMENT_OVERHEAD) {
    throw new IntegrityError(`${name}: encrypted segment ${index} is truncated`);
  }
  const end = sealed.length - TAG_BYTES;
  const plain = sealed.subarray(NONCE_BYTES, end);
  const authentic = segmentCipher.open(
    keys.dataKey,
    sealed.subarray(0, NONCE_BYTES),
    segmentAad(keys.fileId, index, final),
    plain,
    sealed.subarray(end),
    CIPHER_IDS[keys.cipher],
  );
  if (!authentic) throw authenticationFailed(name, index);
  return plain;
}

/** The error of a segment that does not authenticate (changed, moved, or from another file), however it was read. */
export function authenticationFailed(name: string, index: number): IntegrityError {
  return new IntegrityError(`${name}: encrypted segment ${index} failed authentication`);
}
