// Quota scans: a user's home or a virtual folder counted on disk as its quota counts it, and stored as its usage.
import { homeDirOf } from './auth/user-admin.js';
import type { HomeIdentity } from './context-storage.js';
import { type DiskUsage, scanUsage } from './core/quota-scan.js';
import { FerryError, NotFoundError } from './errors.js';
import type { Store, UserLookup, UserRecord } from './store/types.js';
import { LocalFs } from './vfs/local/local-fs.js';
import type { Fs } from './vfs/types.js';

export interface QuotaScanDeps {
  readonly store: Pick<Store, 'users' | 'folders'>;
  /** Users as sessions see them (homes from group templates, groups' quotas). */
  readonly sessionUsers: UserLookup;
  /** The homes' storage backend (local or S3, encrypted when on), as sessions get it. */
  readonly homeFs: (identity: HomeIdentity) => Fs;
  /** Where default homes live. */
  readonly homes: string;
}

export class QuotaScans {
  readonly #deps: QuotaScanDeps;

  constructor(deps: QuotaScanDeps) {
    this.#deps = deps;
  }

  /** Counts a virtual folder's files as its quota does and stores that as its usage. */
  async folder(name: string): Promise<DiskUsage> {
    const { store } = this.#deps;
    const folder = await store.folders.findByName(name);
    if (!folder) throw new NotFoundError(`no folder ${name}`);
    // Not created here: a scan may run as root before `serve --user` drops it, and would leave a root-owned folder.
    const usage = await scanUsage(new LocalFs({ root: folder.path })).catch((err: unknown) => {
      if (err instanceof FerryError && err.code === 'ERR_NOT_FOUND') return { bytes: 0, files: 0 };
      throw err;
    });
    await store.folders.setUsage(name, usage.bytes, usage.files);
    return usage;
  }

  /** Every user as sessions see them: for whole-store walks. */
  async effectiveUsers(): Promise<UserRecord[]> {
    const out: UserRecord[] = [];
    for (const { name } of await this.#deps.store.users.list()) {
      const user = await this.#deps.sessionUsers.findByName(name);
      if (user) out.push(user);
    }
    return out;
  }

  /** Counts the user's home as the quota does and stores it as their usage (`ferry quota scan`). */
  async user(name: string): Promise<DiskUsage> {
    const { sessionUsers, homeFs, homes, store } = this.#deps;
    const user = await sessionUsers.findByName(name);
    if (!user) throw new NotFoundError(`no user ${name}`);
    const usage = await scanUsage(
      homeFs({ homeDir: homeDirOf(user, homes), storageEncryption: user.storageEncryption }),
    );
    await store.users.setUsage(name, usage.bytes, usage.files);
    return usage;
  }

  /**
   * Rescans every user and folder with a quota: run at server start, before any session, so that what a crash
   * left between a change on disk and its count (or an upload's partial) is counted as the disk has it.
   */
  async rescan(): Promise<number> {
    const limited = (await this.effectiveUsers()).filter(
      (u) => u.quota && (u.quota.limitBytes > 0 || u.quota.limitFiles > 0),
    );
    for (const user of limited) await this.user(user.name);
    const folders = (await this.#deps.store.folders.list()).filter(
      (f) => f.quotaBytes > 0 || f.quotaFiles > 0,
    );
    for (const folder of folders) await this.folder(folder.name);
    return limited.length + folders.length;
  }
}
