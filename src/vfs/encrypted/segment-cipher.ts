// AES-256-GCM or ChaCha20-Poly1305 over a segment's own buffer: the native aead addon when it is built,
// node:crypto otherwise.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { loggers } from '../../logger.js';
import { aead, aeadWith } from '../../util/aead-addon.js';

/*
 * Why in place: node:crypto returns a new buffer from every update, one fresh 64 KiB ArrayBuffer per segment
 * (1 GiB per GiB moved). V8 runs a scavenge whenever young ArrayBuffers reach a fixed size (the same churn
 * src/sftp/read-buffers.ts removed from downloads), so the encrypted path doubled the server's GC work, and
 * zero-filling, copying and collecting those buffers cost the main thread more than AES itself. The addon
 * (native/aead) encrypts and decrypts the segment buffer where it lies; the fallback keeps a server without the
 * built addon working, at the old cost.
 */

/** The ciphers a container's segments can be sealed with (container.ts records which in the header). */
export type SegmentCipherName = 'aes-256-gcm' | 'chacha20-poly1305';

/** The addon's id of each cipher (enum aead_kind in native/aead/src/aead.h). */
export const CIPHER_IDS: Readonly<Record<SegmentCipherName, number>> = {
  'aes-256-gcm': 0,
  'chacha20-poly1305': 1,
};
const CIPHER_NAMES: readonly SegmentCipherName[] = ['aes-256-gcm', 'chacha20-poly1305'];

interface AeadAddon {
  /** Encrypts `data` in place and writes the 16-byte tag; throws only on bad arguments. Cipher: CIPHER_IDS, default AES. */
  seal(key: Buffer, nonce: Buffer, aad: Buffer, data: Buffer, tag: Buffer, cipher?: number): boolean;
  /** Decrypts `data` in place; false (and `data` zeroed) when it does not authenticate. */
  open(key: Buffer, nonce: Buffer, aad: Buffer, data: Buffer, tag: Buffer, cipher?: number): boolean;
}

/** A segment's file read with its opening in the same thread-pool job (native/aead/src/io.c). */
export interface SegmentIo {
  /**
   * Reads `sealedLength` bytes at `position` into the start of segment buffer `buffer` (nonce | data | tag, as
   * stored) and opens them in place: resolves with sealedLength when they authenticated, -1 when they did not
   * (data zeroed), or the count read when the file ended first. Key and aad are copied when the call is made.
   */
  readOpen(
    fd: number,
    position: number,
    buffer: Buffer,
    sealedLength: number,
    key: Buffer,
    aad: Buffer,
    cipher?: number,
  ): Promise<number>;
  /**
   * readOpen for consecutive segments stored from `position` on (at most 32), each into its own buffer, in one
   * job: one preadv, then each opened. Resolves with each segment's result as readOpen's.
   */
  readOpenMany(
    fd: number,
    position: number,
    buffers: Buffer[],
    sealedLengths: number[],
    key: Buffer,
    aads: Buffer[],
    cipher: number,
  ): Promise<number[]>;
}

function loadAddon(): (AeadAddon & Partial<SegmentIo>) | undefined {
  // An addon built before the cipher argument (readOpenMany came with it) would refuse the calls made now.
  const addon = aeadWith<AeadAddon & Partial<SegmentIo>>('readOpenMany');
  if (!addon) {
    loggers.core.warn(
      { err: aead.error },
      'encrypted storage: native/aead is not built (npm install builds it); sealing with node:crypto, which costs more CPU',
    );
  }
  return addon;
}

function cipherName(id = 0): SegmentCipherName {
  const name = CIPHER_NAMES[id];
  if (!name) throw new RangeError(`cipher must be 0 (AES-256-GCM) or 1 (ChaCha20-Poly1305), not ${id}`);
  return name;
}

const fallback: AeadAddon = {
  seal(key, nonce, aad, data, tag, id) {
    // Both ciphers take a 12-byte nonce and give a 16-byte tag (node:crypto's defaults for each).
    const cipher = createCipheriv(cipherName(id) as 'aes-256-gcm', key, nonce);
    cipher.setAAD(aad);
    cipher.update(data).copy(data);
    cipher.final();
    cipher.getAuthTag().copy(tag);
    return true;
  },
  open(key, nonce, aad, data, tag, id) {
    const decipher = createDecipheriv(cipherName(id) as 'aes-256-gcm', key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const plain = decipher.update(data);
    try {
      decipher.final();
    } catch {
      data.fill(0);
      return false;
    }
    plain.copy(data);
    return true;
  },
};

const addon = loadAddon();

/** Which implementation seals segments: 'native' (in place) or 'node:crypto' (the addon is not built). */
export const segmentCipherKind: 'native' | 'node:crypto' = addon ? 'native' : 'node:crypto';

export const segmentCipher: AeadAddon = addon ?? fallback;

/** Read-and-open jobs, when the addon is built (otherwise files read through the file, opened on this thread). */
export const segmentIo: SegmentIo | undefined = addon as SegmentIo | undefined;

/** The node:crypto implementation, for tests that check both agree. */
export const nodeSegmentCipher: AeadAddon = fallback;
