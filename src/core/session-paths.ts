// Path and permission plumbing of one session: virtual paths, the folders whose permissions govern an entry, stats as users see them.
import { FerryError, LimitError, NotFoundError, PermissionDeniedError } from '../errors.js';
import { canDo, type Fs, type FsStat } from '../vfs/types.js';
import type { HomeJail } from './home-jail.js';
import type { ConcretePermission, PermissionPolicy } from './permissions.js';
import type { FileStat, SessionIdentity } from './types.js';
import { partialClaimKey } from './upload-lock.js';
import {
  hasReservedComponent,
  type PathLimits,
  partialPathFor,
  resolveVirtualPath,
  virtualDirname,
} from './virtual-path.js';

/**
 * Ids shown for files the server's own account owns (every file a user stored): the user's virtual ids, so a
 * client never learns that the server runs as root (0) or which service account it uses. Not real accounts.
 */
export const VIRTUAL_ID_BASE = 10_000;

export function isCode(err: unknown, code: FerryError['code']): boolean {
  return err instanceof FerryError && err.code === code;
}

export class SessionPaths {
  readonly identity: SessionIdentity;
  readonly #fs: Fs;
  readonly #jail: HomeJail;
  readonly #policy: PermissionPolicy;
  readonly #limits: PathLimits;
  readonly #maxFileSize: number;

  constructor(
    identity: SessionIdentity,
    fs: Fs,
    jail: HomeJail,
    policy: PermissionPolicy,
    limits: PathLimits,
    maxFileSize: number,
  ) {
    this.identity = identity;
    this.#fs = fs;
    this.#jail = jail;
    this.#policy = policy;
    this.#limits = limits;
    this.#maxFileSize = maxFileSize;
  }

  get policy(): PermissionPolicy {
    return this.#policy;
  }

  get limits(): PathLimits {
    return this.#limits;
  }

  /** A write at a huge offset makes a huge sparse file that close() must hash: the size limit bounds that work. */
  checkFileSize(size: number): void {
    const max = this.#maxFileSize;
    if (max > 0 && size > max) throw new LimitError(`File size limit (${max} bytes) exceeded`);
  }

  /** Canonical virtual path; names of partial uploads are invisible (lookup) or reserved (creation). */
  virtual(path: string, use: 'lookup' | 'create'): string {
    const v = resolveVirtualPath(path, this.#limits);
    if (hasReservedComponent(v)) {
      if (use === 'lookup') throw new NotFoundError();
      throw new PermissionDeniedError('Name is reserved for uploads in progress');
    }
    return v;
  }

  /**
   * Virtual directories whose permissions govern an entry: its directory as named and, when symlinks
   * lead elsewhere in the home, the directory it really lives in. Both must allow the operation, so a
   * link cannot lend a restricted directory the rights of a permissive one.
   */
  permissionDirs(virtualPath: string, real: string, isDirItself = false): string[] {
    const named = isDirItself ? virtualPath : virtualDirname(virtualPath);
    const realVirtual = this.#jail.toVirtual(real);
    if (realVirtual === null) return [named];
    const actual = isDirItself ? realVirtual : virtualDirname(realVirtual);
    return actual === named ? [named] : [named, actual];
  }

  require(permission: ConcretePermission, dirs: readonly string[]): void {
    for (const dir of dirs) {
      if (!this.#policy.has(permission, dir)) {
        throw new PermissionDeniedError(`Permission denied: ${permission} in ${dir}`);
      }
    }
  }

  /** Every permission held in `newDirs` must also hold in `oldDirs`: moving content never launders rights. */
  requireNoMoreThan(newDirs: readonly string[], oldDirs: readonly string[]): void {
    for (const dir of newDirs) {
      for (const permission of this.#policy.at(dir)) this.require(permission, oldDirs);
    }
  }

  async tryStat(real: string, follow: boolean): Promise<FsStat | undefined> {
    try {
      return follow ? await this.#fs.stat(real) : await this.#fs.lstat(real);
    } catch (err) {
      if (isCode(err, 'ERR_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  partialOf(real: string): string {
    return partialPathFor(real, this.#limits.maxComponentLength);
  }

  /** Claims are process-wide and backend paths are per home: the home is part of the key. */
  claimKey(partial: string): string {
    return partialClaimKey(this.identity.homeDir, partial);
  }

  toFileStat(s: FsStat): FileStat {
    const { username, virtualId } = this.identity;
    // Asked each time: the process drops root after start-up, after which its files are the service user's.
    // A backend without ownership has no owners to show: everything is the user's own.
    const owners = canDo(this.#fs, 'ownership');
    const ownUid = !owners || s.uid === process.getuid?.();
    const ownGid = !owners || s.gid === process.getgid?.();
    const id = VIRTUAL_ID_BASE + (virtualId ?? 0);
    return {
      kind: s.kind,
      mode: s.mode,
      size: s.size,
      uid: ownUid ? id : s.uid,
      gid: ownGid ? id : s.gid,
      owner: ownUid ? username : String(s.uid),
      group: ownGid ? username : String(s.gid),
      nlink: s.nlink,
      atime: Math.floor(s.atimeMs / 1000),
      mtime: Math.floor(s.mtimeMs / 1000),
    };
  }
}
