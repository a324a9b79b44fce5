// The key-encryption keys of encrypted storage: derived from a master key, named by a short id stored in each header.
import { createHash } from 'node:crypto';
import type { MasterKey } from '../../keys/sealing.js';
import type { Secret } from '../../util/secret.js';

/** The HKDF label of the storage key-encryption key; a new label would be a new, separate key. */
export const STORAGE_KEK_LABEL = 'storage-kek:v1';

/** A key that wraps files' data keys, with the id headers name it by. */
export interface StorageKek {
  readonly id: Buffer;
  readonly key: Secret<Buffer>;
}

/** The key-encryption key of a master key (HKDF with STORAGE_KEK_LABEL); its id is a hash of it, so it reveals nothing. */
export function storageKekOf(master: MasterKey): StorageKek {
  const key = master.deriveKey(STORAGE_KEK_LABEL);
  const id = createHash('sha256')
    .update('ferry storage key id\0')
    .update(key.reveal())
    .digest()
    .subarray(0, 8);
  return { id, key };
}

/** The key new headers are wrapped under, and every key a header may name (the current one included). */
export class StorageKeyRing {
  readonly current: StorageKek;
  readonly #all: readonly StorageKek[];

  constructor(current: StorageKek, older: readonly StorageKek[] = []) {
    this.current = current;
    this.#all = [current, ...older];
  }

  find(id: Buffer): StorageKek | undefined {
    return this.#all.find((k) => k.id.equals(id));
  }
}
