// Test-only: an EncryptedFs over a fresh local temp directory, with a master key of its own.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MasterKey } from '../../keys/sealing.js';
import { LocalFs } from '../local/local-fs.js';
import { EncryptedFs, type PlaintextFiles } from './encrypted-fs.js';
import type { SegmentCipherName } from './segment-cipher.js';
import { StorageKeyRing, storageKekOf } from './storage-keys.js';

/** A master key in a file of its own (mode 0600) under `dir`. */
export async function newMasterKey(dir: string, name = 'master.key'): Promise<MasterKey> {
  const file = join(dir, name);
  await writeFile(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  return MasterKey.load(undefined, file, { generate: false });
}

export interface EncryptedFixture {
  /** The encrypted view. */
  readonly fs: EncryptedFs;
  /** The same files as stored (containers). */
  readonly raw: LocalFs;
  readonly root: string;
  readonly master: MasterKey;
  cleanup(): Promise<void>;
}

export async function encryptedFixture(
  plaintextFiles: PlaintextFiles = 'read',
  cipher: SegmentCipherName = 'aes-256-gcm',
): Promise<EncryptedFixture> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-encfs-'));
  const keyDir = await mkdtemp(join(tmpdir(), 'ferry-encfs-key-'));
  const master = await newMasterKey(keyDir);
  const raw = new LocalFs({ dirBatchSize: 100 });
  const fs = new EncryptedFs(raw, {
    keys: new StorageKeyRing(storageKekOf(master)),
    plaintextFiles,
    cipher,
  });
  return {
    fs,
    raw,
    root,
    master,
    cleanup: async () => {
      await rm(root, { recursive: true, force: true });
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}
