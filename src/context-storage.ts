// The composition root's storage half: the store driver and the homes' storage backend chosen from config, and the
// layers a session's view of its files gets (quota, virtual folders). Only context.ts uses it.
import type { FerryConfig } from './config/schema.js';
import { folderQuotaLedger, QuotaFs, storeQuotaLedger } from './core/quota-fs.js';
import type { SessionIdentity } from './core/types.js';
import { partialPathFor } from './core/virtual-path.js';
import {
  createDataDir,
  type DataDirAccess,
  dataPaths,
  requireDataDir,
  requireInitialisedDataDir,
} from './data-dir.js';
import { loggers } from './logger.js';
import { openSqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store, UserRepository } from './store/types.js';
import { EncryptedFs } from './vfs/encrypted/encrypted-fs.js';
import type { SegmentCipherName } from './vfs/encrypted/segment-cipher.js';
import type { StorageKeyRing } from './vfs/encrypted/storage-keys.js';
import { LocalFs, localHomeFs } from './vfs/local/local-fs.js';
import { MountFs } from './vfs/mount-fs.js';
import type { s3HomeFs } from './vfs/s3/s3-home.js';
import type { Fs } from './vfs/types.js';

/** Opens the store `config.store` names: the one place a store driver is chosen. */
export async function openStore(config: FerryConfig, access: DataDirAccess): Promise<Store> {
  const store = config.store;
  switch (store.driver) {
    case 'sqlite':
      if (access === 'create') createDataDir(config.dataDir);
      else requireInitialisedDataDir(config.dataDir, store.path);
      return openSqliteStore(store.path, { readonly: access === 'read' });
    case 'postgres': {
      if (access !== 'create') requireDataDir(config.dataDir);
      // Loaded only here: a SQLite installation never loads `pg`.
      const { openPostgresStore } = await import('./store/postgres/postgres-store.js');
      const opened = await openPostgresStore(store.url.reveal(), { readonly: access === 'read' });
      // The data dir is made once the server answered: an unreachable store leaves no empty data dir behind.
      if (access === 'create')
        try {
          createDataDir(config.dataDir);
        } catch (err) {
          await opened.close();
          throw err;
        }
      return opened;
    }
  }
}

/** The S3 backend's module: the AWS SDK it loads is ~13 MB per process, so only a configured S3 storage loads it. */
export interface S3Backend {
  readonly s3HomeFs: typeof s3HomeFs;
}

export const loadS3Backend = (config: FerryConfig): Promise<S3Backend | undefined> =>
  config.storage.backend === 's3' ? import('./vfs/s3/s3-home.js') : Promise.resolve(undefined);

export function s3Backend(s3: S3Backend | undefined): S3Backend {
  // AppContext.create loads it whenever the configuration names S3; reaching this without it is a bug.
  if (s3 === undefined) throw new Error('S3 storage used before its module was loaded');
  return s3;
}

/** What chooses a home's storage: where it is, and the user's own choice of encryption (absent: the server's). */
export interface HomeIdentity {
  readonly homeDir: string;
  readonly storageEncryption?: boolean | null | undefined;
}

/**
 * The storage of users' homes `config.storage` names: the one place an Fs backend is chosen, and wrapped in
 * encrypted storage when `storage.encryption` is on. `storageKeys` is asked at a session's first use of its home,
 * so commands that open no home never load the master key.
 */
export function homeFsFactory(
  config: FerryConfig,
  storageKeys: () => StorageKeyRing,
  cipher: () => SegmentCipherName,
  s3: S3Backend | undefined,
  store: Store,
): {
  home: (identity: HomeIdentity) => Fs;
  sweepAbandoned:
    | ((before: Date) => Promise<{ aborted: number; failed: { key: string; reason: string }[] }>)
    | undefined;
} {
  const storage = config.storage;
  const backend = (() => {
    switch (storage.backend) {
      case 'local': {
        const { metadataCalls } = storage;
        return {
          home: (identity: { readonly homeDir: string }) => localHomeFs(identity, metadataCalls),
          sweepAbandoned: undefined,
        };
      }
      case 's3':
        // The store records each multipart upload's parts: any node continues one whose node died.
        return s3Backend(s3).s3HomeFs(storage, dataPaths(config.dataDir).homes, store.s3Uploads);
    }
  })();
  const { encryption } = storage;
  return {
    // A user's own setting wins over the server's (users set --storage-encryption); one turned off still reads
    // the containers stored while it was on. Homes with encryption nowhere on stay without the decorator (it
    // costs every stat an open and a read).
    home: (identity) => {
      const own: boolean | null | undefined = identity.storageEncryption;
      const encrypt: boolean = own ?? encryption.enabled;
      // S3 holds no containers (encrypted storage needs random writes; config and users set refuse it there).
      if (!encrypt && (own !== false || storage.backend === 's3')) return backend.home(identity);
      return new EncryptedFs(backend.home(identity), {
        keys: storageKeys(),
        // A user storing plain files must read them back, whatever the server's policy for its own homes.
        plaintextFiles: encrypt ? encryption.plaintextFiles : 'read',
        newFiles: encrypt ? 'encrypted' : 'plain',
        cipher: cipher(),
      });
    },
    sweepAbandoned: backend.sweepAbandoned,
  };
}

/** Usage counted against the user's disk quota, right above the storage (what a scan reads) when one is set. */
export function withQuota(fs: Fs, identity: SessionIdentity, users: UserRepository): Fs {
  const { quota } = identity;
  if (!quota || (quota.bytes === 0 && quota.files === 0)) return fs;
  const limits = [
    quota.bytes > 0 ? `${quota.bytes} bytes` : undefined,
    quota.files > 0 ? `${quota.files} files` : undefined,
  ].filter(Boolean);
  const describe = `${identity.username} may store ${limits.join(' and ')}`;
  return new QuotaFs(fs, storeQuotaLedger(users, identity.username, quota), describe);
}

/**
 * The session's view: the home with its virtual folders mounted (vfs/mount-fs.ts), each folder on the local disk
 * rooted at its own directory (the kernel confines it there as it confines homes) and counted against its own
 * quota. Below the OpenPGP policies, so those apply by virtual path in folders too; folders are stored as they are
 * (storage.encryption applies to homes).
 */
export function withFolders(
  home: Fs,
  identity: SessionIdentity,
  config: FerryConfig,
  folderRepository: Store['folders'],
): Fs {
  const folders = identity.folders ?? [];
  if (folders.length === 0) return home;
  // Folders are local directories whatever the homes' backend; the setting is the local backend's.
  const storage = config.storage;
  const metadataCalls = storage.backend === 'local' ? storage.metadataCalls : 'auto';
  const mounts = folders.map((folder) => {
    const local = new LocalFs({ root: folder.root, createRoot: true, metadataCalls });
    const limits = [
      folder.quotaBytes > 0 ? `${folder.quotaBytes} bytes` : undefined,
      folder.quotaFiles > 0 ? `${folder.quotaFiles} files` : undefined,
    ].filter(Boolean);
    const fs =
      limits.length === 0
        ? local
        : new QuotaFs(
            local,
            folderQuotaLedger(folderRepository, folder.name),
            `folder ${folder.name} may store ${limits.join(' and ')}`,
          );
    return { path: folder.virtualPath, fs };
  });
  const log = loggers.core.child({ sessionId: identity.sessionId, user: identity.username });
  return new MountFs(home, mounts, {
    partialOf: (path) => partialPathFor(path),
    onCopyMove: (from, to, bytes) =>
      log.info({ from, to, bytes }, 'rename between virtual folders done by copy and delete'),
  });
}
