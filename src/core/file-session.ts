// The protocol-neutral file session: chroot, permissions, atomic/resumable uploads, limits and events over one Fs.
import { posix } from 'node:path';
import {
  FerryError,
  InvalidArgumentError,
  InvalidPathError,
  LimitError,
  NotFoundError,
  PermissionDeniedError,
  toFerryError,
  UnsupportedError,
} from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { FileOperationEvent, TransferEvent } from '../events/types.js';
import type { Logger } from '../logger.js';
import { canDo, type Fs, type FsDir, type FsStat } from '../vfs/types.js';
import {
  DEFAULT_MAX_HASH_BYTES,
  type HandleHost,
  type OpenedFile,
  SessionFileHandle,
} from './file-handle.js';
import { HomeJail } from './home-jail.js';
import { type ConcretePermission, PermissionPolicy } from './permissions.js';
import type {
  DirEntry,
  DirHandle,
  FileHandle,
  FileSession,
  FileSessionFactory,
  FileStat,
  OpenMode,
  SessionIdentity,
  SessionResources,
  SetAttrs,
  StatVfs,
} from './types.js';
import { claimPartial, isPartialClaimed, partialClaimKey, UploadInProgressError } from './upload-lock.js';
import {
  DEFAULT_PATH_LIMITS,
  hasReservedComponent,
  isReservedName,
  type PathLimits,
  partialPathFor,
  resolveVirtualPath,
  virtualBasename,
  virtualDirname,
} from './virtual-path.js';

export const DEFAULT_MAX_OPEN_HANDLES = 256;
/** Server-side copy moves data in chunks of this size; memory stays bounded. */
const COPY_CHUNK = 256 * 1024;

export interface FileSessionDeps {
  events: EventBus;
  logger: Logger;
  /**
   * The storage of one session, rooted at the user's home: '/' is the home, and the backend (for the
   * local disk, the kernel) keeps every path, '..' and symlink inside it. Called once per session.
   */
  fs: (identity: SessionIdentity) => Fs;
  /** maxFileSize: largest size a write, resize or copy may give a file (0: no limit). */
  limits?: { maxOpenHandles?: number; maxPathLength?: number; maxFileSize?: number; maxHashBytes?: number };
  /** 'atomic' (default): uploads go to a hidden partial renamed into place on close. */
  uploadMode?: 'atomic' | 'direct';
}

export function createFileSessionFactory(deps: FileSessionDeps): FileSessionFactory {
  return (identity, resources) => new CoreFileSession(identity, deps, resources);
}

type FileOp = FileOperationEvent['operation'];

/**
 * Ids shown for files the server's own account owns (every file a user stored): the user's virtual ids, so a
 * client never learns that the server runs as root (0) or which service account it uses. Not real accounts.
 */
export const VIRTUAL_ID_BASE = 10_000;

function isCode(err: unknown, code: FerryError['code']): boolean {
  return err instanceof FerryError && err.code === code;
}

function describeError(err: unknown): string {
  if (err instanceof PermissionDeniedError) return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

class CoreFileSession implements FileSession {
  readonly identity: SessionIdentity;
  readonly #fs: Fs;
  readonly #events: EventBus;
  readonly #log: Logger;
  readonly #jail: HomeJail;
  readonly #policy: PermissionPolicy;
  readonly #limits: PathLimits;
  readonly #maxHandles: number;
  readonly #atomic: boolean;
  readonly #files = new Set<SessionFileHandle>();
  readonly #dirs = new Set<SessionDirHandle>();
  readonly #host: HandleHost;
  readonly #maxFileSize: number;
  /** Opens between the limit check and the handle existing; counted so concurrent opens cannot overshoot. */
  #pendingOpens = 0;
  #closed = false;
  readonly #resources: SessionResources;

  constructor(identity: SessionIdentity, deps: FileSessionDeps, resources: SessionResources = {}) {
    this.#resources = resources;
    this.identity = identity;
    this.#fs = deps.fs(identity);
    this.#events = deps.events;
    this.#log = deps.logger.child({ sessionId: identity.sessionId, user: identity.username });
    // The backend is rooted at the home, so the jail's view of the home is '/'; it only locates objects.
    this.#jail = new HomeJail(this.#fs, '/');
    this.#policy = new PermissionPolicy(identity.permissions);
    this.#limits = {
      maxPathLength: deps.limits?.maxPathLength ?? DEFAULT_PATH_LIMITS.maxPathLength,
      maxComponentLength: DEFAULT_PATH_LIMITS.maxComponentLength,
    };
    this.#maxHandles = deps.limits?.maxOpenHandles ?? DEFAULT_MAX_OPEN_HANDLES;
    this.#maxFileSize = deps.limits?.maxFileSize ?? 0;
    this.#atomic = (deps.uploadMode ?? 'atomic') === 'atomic';
    this.#host = {
      fs: this.#fs,
      log: this.#log,
      toFileStat: (s) => this.#toFileStat(s),
      require: (permission, dirs) => this.#require(permission, dirs),
      emitTransfer: (fields) => this.#emitTransfer(fields),
      emitSetstat: (path, attrs, error) => this.#emitFileOp('setstat', path, undefined, error, { ...attrs }),
      released: (handle) => this.#files.delete(handle) && resources.handles?.give(1),
      checkFileSize: (size) => this.#checkFileSize(size),
      maxHashBytes: deps.limits?.maxHashBytes ?? DEFAULT_MAX_HASH_BYTES,
      signal: resources.signal,
      emitChecksum: (path, detail, error) => this.#emitFileOp('checksum', path, undefined, error, detail),
    };
  }

  // ---- path and policy plumbing -------------------------------------------------------------

  /** A write at a huge offset makes a huge sparse file that close() must hash: the size limit bounds that work. */
  #checkFileSize(size: number): void {
    const max = this.#maxFileSize;
    if (max > 0 && size > max) throw new LimitError(`File size limit (${max} bytes) exceeded`);
  }

  async #begin(): Promise<void> {
    if (this.#closed) throw new FerryError('ERR_IO', 'File session is closed');
    await this.#jail.ready();
  }

  /** Canonical virtual path; names of partial uploads are invisible (lookup) or reserved (creation). */
  #virtual(path: string, use: 'lookup' | 'create'): string {
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
  #permissionDirs(virtualPath: string, real: string, isDirItself = false): string[] {
    const named = isDirItself ? virtualPath : virtualDirname(virtualPath);
    const realVirtual = this.#jail.toVirtual(real);
    if (realVirtual === null) return [named];
    const actual = isDirItself ? realVirtual : virtualDirname(realVirtual);
    return actual === named ? [named] : [named, actual];
  }

  #require(permission: ConcretePermission, dirs: readonly string[]): void {
    for (const dir of dirs) {
      if (!this.#policy.has(permission, dir)) {
        throw new PermissionDeniedError(`Permission denied: ${permission} in ${dir}`);
      }
    }
  }

  /** Every permission held in `newDirs` must also hold in `oldDirs`: moving content never launders rights. */
  #requireNoMoreThan(newDirs: readonly string[], oldDirs: readonly string[]): void {
    for (const dir of newDirs) {
      for (const permission of this.#policy.at(dir)) this.#require(permission, oldDirs);
    }
  }

  async #tryStat(real: string, follow: boolean): Promise<FsStat | undefined> {
    try {
      return follow ? await this.#fs.stat(real) : await this.#fs.lstat(real);
    } catch (err) {
      if (isCode(err, 'ERR_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  #partialOf(real: string): string {
    return partialPathFor(real, this.#limits.maxComponentLength);
  }

  /** Claims are process-wide and backend paths are per home: the home is part of the key. */
  #claimKey(partial: string): string {
    return partialClaimKey(this.identity.homeDir, partial);
  }

  /**
   * Checks what the backend really opened (symlinks resolved by the kernel at open time, so no later swap
   * changes it): never a partial upload reached by another name, and the permissions of the directory it
   * really lives in. On refusal the file is closed and its claim released.
   */
  async #confirmOpened(opened: OpenedFile, permissions: readonly ConcretePermission[]): Promise<OpenedFile> {
    const where = opened.file.resolvedPath;
    if (where === undefined) return opened;
    try {
      const ownPartial =
        where !== null &&
        opened.finalPath !== undefined &&
        virtualBasename(where) === virtualBasename(opened.backendPath) &&
        !hasReservedComponent(virtualDirname(where));
      if (where === null || (hasReservedComponent(where) && !ownPartial)) throw new NotFoundError();
      const actual = virtualDirname(where);
      const dirs = opened.permissionDirs.includes(actual)
        ? opened.permissionDirs
        : [...opened.permissionDirs, actual];
      for (const permission of permissions) this.#require(permission, dirs);
      return dirs === opened.permissionDirs ? opened : { ...opened, permissionDirs: dirs };
    } catch (err) {
      await opened.file
        .close()
        .catch((closeErr: unknown) => this.#log.warn({ err: closeErr }, 'close failed'));
      opened.releaseClaim?.();
      throw err;
    }
  }

  #toFileStat(s: FsStat): FileStat {
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

  #base() {
    return {
      at: new Date(),
      sessionId: this.identity.sessionId,
      username: this.identity.username,
      remoteAddress: this.identity.remoteAddress,
      protocol: this.identity.protocol,
    };
  }

  #emitTransfer(fields: Parameters<HandleHost['emitTransfer']>[0]): Promise<void> {
    const event: TransferEvent = { type: 'transfer', ...this.#base(), ...fields };
    return this.#events.emit(event);
  }

  #emitFileOp(
    operation: FileOp,
    path: string,
    target: string | undefined,
    error: unknown,
    detail?: Readonly<Record<string, unknown>>,
  ): void {
    const event: FileOperationEvent = {
      type: 'file-op',
      ...this.#base(),
      operation,
      path: this.#auditPath(path),
      // A symlink's target is link text, not a path of ours: recorded as sent.
      ...(target !== undefined ? { target: operation === 'symlink' ? target : this.#auditPath(target) } : {}),
      ...(detail !== undefined ? { detail } : {}),
      ok: error === undefined,
      ...(error !== undefined ? { error: describeError(error) } : {}),
    };
    this.#events.emit(event);
  }

  /** Audit records carry the canonical virtual path; input that does not resolve is kept as sent. */
  #auditPath(path: string): string {
    try {
      return resolveVirtualPath(path, this.#limits);
    } catch {
      return path;
    }
  }

  /** Runs a public operation: session checks first, every failure leaves as a FerryError. */
  async #run<T>(op: () => Promise<T>): Promise<T> {
    try {
      await this.#begin();
      return await op();
    } catch (err) {
      throw toFerryError(err);
    }
  }

  /** Like #run for mutating operations, which are audited whether they succeed or not. */
  async #audited<T>(
    operation: FileOp,
    path: string,
    target: string | undefined,
    op: () => Promise<T>,
    detail?: () => Readonly<Record<string, unknown>>,
  ): Promise<T> {
    try {
      const result = await this.#run(op);
      this.#emitFileOp(operation, path, target, undefined, detail?.());
      return result;
    } catch (err) {
      this.#emitFileOp(operation, path, target, err, detail?.());
      throw err;
    }
  }

  /** Reserves a handle slot for the duration of `open`; a session closed meanwhile gets nothing. */
  async #withHandleSlot<T extends { abort?(): Promise<void>; close(): Promise<void> }>(
    open: () => Promise<T>,
  ): Promise<T> {
    if (this.#files.size + this.#dirs.size + this.#pendingOpens >= this.#maxHandles) {
      throw new LimitError(`Too many open handles (limit ${this.#maxHandles})`);
    }
    // The connection's and user's handle budgets (budgets.ts); given back when the handle is released.
    this.#resources.handles?.take(1);
    this.#pendingOpens++;
    let handle: T;
    try {
      handle = await open();
    } catch (err) {
      this.#resources.handles?.give(1);
      throw err;
    } finally {
      this.#pendingOpens--;
    }
    if (this.#closed) {
      await (handle.abort ? handle.abort() : handle.close());
      throw new FerryError('ERR_IO', 'File session is closed');
    }
    return handle;
  }

  // ---- FileSession ----------------------------------------------------------------------------

  realpath(path: string): Promise<string> {
    return this.#run(async () => {
      const v = resolveVirtualPath(path, this.#limits);
      const real = await this.#jail.resolve(v, true);
      if (v !== '/' && (await this.#tryStat(posix.dirname(real), true)) === undefined) {
        throw new NotFoundError('No such directory');
      }
      return this.#jail.toVirtual(real) ?? v;
    });
  }

  stat(path: string): Promise<FileStat> {
    return this.#statImpl(path, true);
  }

  lstat(path: string): Promise<FileStat> {
    return this.#statImpl(path, false);
  }

  #statImpl(path: string, follow: boolean): Promise<FileStat> {
    return this.#run(async () => {
      const v = this.#virtual(path, 'lookup');
      const real = await this.#jail.resolve(v, follow);
      if (hasReservedComponent(real)) throw new NotFoundError();
      this.#require('list', this.#permissionDirs(v, real));
      const st = await this.#tryStat(real, follow);
      if (st) return this.#toFileStat(st);
      // Resume support: `reput`/`put -a` stat the target to learn how much arrived. While only the
      // partial exists we report its attributes under the target's name. Trade-off: a stat can show a
      // name that open-for-read and listings do not (yet) show.
      if (this.#atomic) {
        const partial = await this.#tryStat(this.#partialOf(real), false);
        if (partial?.kind === 'file') return this.#toFileStat(partial);
      }
      throw new NotFoundError();
    });
  }

  setstat(path: string, attrs: SetAttrs, options: { followSymlinks?: boolean } = {}): Promise<void> {
    return this.#audited(
      'setstat',
      path,
      undefined,
      async () => {
        const follow = options.followSymlinks ?? true;
        const v = this.#virtual(path, 'lookup');
        const real = await this.#jail.resolve(v, follow);
        if (hasReservedComponent(real)) throw new NotFoundError();
        const st = await (follow ? this.#fs.stat(real) : this.#fs.lstat(real));
        const dirs = this.#permissionDirs(v, real, st.kind === 'directory');
        // Check everything first: a denied part must leave nothing changed.
        if (attrs.mode !== undefined) this.#require('chmod', dirs);
        if (attrs.atime !== undefined || attrs.mtime !== undefined) this.#require('chtimes', dirs);
        if (attrs.size !== undefined) {
          this.#require('overwrite', dirs);
          if (st.kind !== 'file') throw new InvalidArgumentError('Only regular files can be resized');
          if (!Number.isSafeInteger(attrs.size) || attrs.size < 0) throw new InvalidArgumentError('Bad size');
          this.#checkFileSize(attrs.size);
        }
        if (attrs.mode !== undefined && st.kind === 'symlink') {
          throw new FerryError('ERR_UNSUPPORTED', 'The mode of a symlink cannot be changed');
        }
        if (attrs.mode !== undefined && !canDo(this.#fs, 'modes')) {
          throw new UnsupportedError('This storage keeps no permission bits');
        }
        // uid/gid are ignored on purpose: ownership is not changeable through Ferry (one server account owns every file).
        if (attrs.size !== undefined) {
          const file = await this.#fs.open(real, { read: false, write: true, noFollow: true });
          try {
            await file.truncate(attrs.size);
          } finally {
            await file.close();
          }
        }
        // setuid, setgid and sticky are never set: files here are data, never programs run by someone else.
        if (attrs.mode !== undefined) await this.#fs.chmod(real, attrs.mode & 0o777);
        if (attrs.atime !== undefined || attrs.mtime !== undefined) {
          await this.#fs.utimes(real, attrs.atime ?? st.atimeMs / 1000, attrs.mtime ?? st.mtimeMs / 1000, {
            followSymlinks: follow,
          });
        }
      },
      () => ({ ...attrs }),
    );
  }

  openFile(path: string, mode: OpenMode, attrs: SetAttrs = {}): Promise<FileHandle> {
    return this.#run(async () => {
      if (!mode.read && !mode.write) throw new InvalidArgumentError('Open for neither reading nor writing');
      const v = this.#virtual(path, mode.write && mode.create ? 'create' : 'lookup');
      return this.#withHandleSlot(() => this.#openFile(v, mode, attrs));
    });
  }

  async #openFile(v: string, mode: OpenMode, attrs: SetAttrs): Promise<SessionFileHandle> {
    const real = await this.#jail.resolve(v, true);
    // A symlink to an upload in progress: the partial is not reachable under any name.
    if (hasReservedComponent(real)) throw new NotFoundError();
    const dirs = this.#permissionDirs(v, real);
    const existing = await this.#tryStat(real, true);
    if (existing && existing.kind !== 'file') {
      // Directories, FIFOs and devices are never opened: a FIFO would block a worker thread forever.
      if (existing.kind === 'directory') throw new FerryError('ERR_IS_A_DIRECTORY', 'Is a directory');
      throw new PermissionDeniedError('Not a regular file');
    }
    if (mode.read) this.#require('download', dirs);
    // Mode bits from the client need chmod where the file lives; setuid, setgid and sticky are never kept.
    const createAttrs =
      attrs.mode !== undefined && this.#policy.has('chmod', virtualDirname(v)) && canDo(this.#fs, 'modes')
        ? attrs
        : {};
    const opened = await this.#confirmOpened(
      mode.write
        ? await this.#openForWrite(v, real, dirs, mode, createAttrs, existing)
        : await this.#openForRead(v, real, dirs, mode, existing),
      [
        ...(mode.read ? (['download'] as const) : []),
        ...(mode.write ? ([existing ? 'overwrite' : 'upload'] as const) : []),
      ],
    );
    const handle = new SessionFileHandle(this.#host, opened);
    this.#files.add(handle);
    return handle;
  }

  async #openForRead(
    v: string,
    real: string,
    dirs: string[],
    mode: OpenMode,
    existing: FsStat | undefined,
  ): Promise<OpenedFile> {
    // A name that exists only as a partial is not readable: the upload has not completed.
    if (!existing) throw new NotFoundError();
    const file = await this.#fs.open(real, { read: true, write: false, noFollow: true });
    return {
      path: v,
      mode,
      file,
      backendPath: real,
      permissionDirs: dirs,
      sizeAtOpen: existing.size,
      createdNew: false,
    };
  }

  async #openForWrite(
    v: string,
    real: string,
    dirs: string[],
    mode: OpenMode,
    attrs: SetAttrs,
    existing: FsStat | undefined,
  ): Promise<OpenedFile> {
    const createMode = attrs.mode !== undefined ? attrs.mode & 0o777 : 0o666;
    const base = { path: v, mode, permissionDirs: dirs };
    if (existing) {
      if (mode.create && mode.exclusive) throw new FerryError('ERR_ALREADY_EXISTS', 'File exists');
      this.#require('overwrite', dirs);
      if (!(this.#atomic && mode.truncate)) {
        // Random writes or appends to a complete file happen in place (also in atomic mode).
        // Always readable: resume digests and check-file-handle read this descriptor, never a reopen by name.
        const file = await this.#fs.open(real, {
          read: true,
          write: true,
          truncate: mode.truncate,
          noFollow: true,
        });
        return {
          ...base,
          file,
          backendPath: real,
          sizeAtOpen: mode.truncate ? 0 : existing.size,
          createdNew: mode.truncate,
        };
      }
      // Replacing a complete file: readers keep seeing the old content until close(); keep its mode.
      const keepMode = canDo(this.#fs, 'modes') ? existing.mode & 0o777 : undefined;
      return this.#openPartial(base, real, true, createMode, keepMode);
    }
    const partialExists =
      this.#atomic && (await this.#tryStat(this.#partialOf(real), false))?.kind === 'file';
    // Without O_CREAT a missing file stays missing, except that a partial (what stat reports) may be continued.
    if (!mode.create && !partialExists) throw new NotFoundError();
    this.#require('upload', dirs);
    if (this.#atomic) {
      return this.#openPartial(base, real, mode.truncate || mode.exclusive || !partialExists, createMode);
    }
    const file = await this.#fs.open(
      real,
      {
        read: true,
        write: true,
        create: true,
        exclusive: mode.exclusive,
        truncate: mode.truncate,
        noFollow: true,
      },
      createMode,
    );
    return { ...base, file, backendPath: real, sizeAtOpen: 0, createdNew: true };
  }

  async #openPartial(
    base: Pick<OpenedFile, 'path' | 'mode' | 'permissionDirs'>,
    real: string,
    fresh: boolean,
    createMode: number,
    keepMode?: number,
  ): Promise<OpenedFile> {
    const partial = this.#partialOf(real);
    const releaseClaim = claimPartial(this.#claimKey(partial), base.path);
    try {
      const file = await this.#fs.open(
        partial,
        { read: true, write: true, create: true, truncate: fresh, noFollow: true },
        createMode,
      );
      try {
        if (keepMode !== undefined) await file.chmod(keepMode);
        const size = fresh ? 0 : (await file.stat()).size;
        return {
          ...base,
          file,
          backendPath: partial,
          finalPath: real,
          sizeAtOpen: size,
          createdNew: fresh,
          continuesPartial: !fresh,
          releaseClaim,
        };
      } catch (err) {
        await file.close().catch((closeErr: unknown) => this.#log.warn({ err: closeErr }, 'close failed'));
        throw err;
      }
    } catch (err) {
      releaseClaim();
      throw err;
    }
  }

  openDir(path: string): Promise<DirHandle> {
    return this.#run(async () => {
      const v = this.#virtual(path, 'lookup');
      return this.#withHandleSlot(() => this.#openDir(v));
    });
  }

  async #openDir(v: string): Promise<SessionDirHandle> {
    const real = await this.#jail.resolve(v, true);
    const st = await this.#fs.stat(real);
    if (st.kind !== 'directory') throw new FerryError('ERR_NOT_A_DIRECTORY', 'Not a directory');
    this.#require('list', this.#permissionDirs(v, real, true));
    const parentReal = real === this.#jail.realHome ? real : posix.dirname(real);
    const parent = await this.#tryStat(parentReal, true);
    const dir = await this.#fs.opendir(real);
    try {
      // The directory the kernel opened, whatever was swapped in since the check above.
      const where = dir.resolvedPath;
      if (where === null) throw new PermissionDeniedError('Directory is not inside the home');
      if (where !== undefined) this.#require('list', [where]);
    } catch (err) {
      await dir.close().catch((closeErr: unknown) => this.#log.warn({ err: closeErr }, 'close failed'));
      throw err;
    }
    const handle = new SessionDirHandle(
      v,
      dir,
      [
        { name: '.', stat: this.#toFileStat(st) },
        { name: '..', stat: this.#toFileStat(parent ?? st) },
      ],
      (s) => this.#toFileStat(s),
      () => this.#dirs.delete(handle) && this.#resources.handles?.give(1),
    );
    this.#dirs.add(handle);
    return handle;
  }

  remove(path: string): Promise<void> {
    return this.#audited('delete', path, undefined, async () => {
      const v = this.#virtual(path, 'lookup');
      const real = await this.#jail.resolve(v, false);
      const dirs = this.#permissionDirs(v, real);
      const st = await this.#tryStat(real, false);
      if (!st) {
        // Deleting what stat reported: a user may abandon an interrupted upload's partial.
        const partial = this.#partialOf(real);
        if (this.#atomic && (await this.#tryStat(partial, false))?.kind === 'file') {
          this.#require('delete_files', dirs);
          if (isPartialClaimed(this.#claimKey(partial))) throw new UploadInProgressError(v);
          await this.#fs.unlink(partial);
          return;
        }
        throw new NotFoundError();
      }
      if (st.kind === 'directory') throw new FerryError('ERR_IS_A_DIRECTORY', 'Is a directory');
      this.#require('delete_files', dirs);
      await this.#fs.unlink(real);
    });
  }

  mkdir(path: string, attrs: SetAttrs = {}): Promise<void> {
    return this.#audited('mkdir', path, undefined, async () => {
      const v = this.#virtual(path, 'create');
      if (v === '/') throw new FerryError('ERR_ALREADY_EXISTS', 'File exists');
      const real = await this.#jail.resolve(v, false);
      this.#require('create_dirs', this.#permissionDirs(v, real));
      const chmodAllowed =
        attrs.mode !== undefined && this.#policy.has('chmod', virtualDirname(v)) && canDo(this.#fs, 'modes');
      await this.#fs.mkdir(real, { mode: chmodAllowed ? attrs.mode! & 0o777 : 0o777 });
    });
  }

  rmdir(path: string): Promise<void> {
    return this.#audited('rmdir', path, undefined, async () => {
      const v = this.#virtual(path, 'lookup');
      if (v === '/') throw new PermissionDeniedError('The home directory cannot be removed');
      const real = await this.#jail.resolve(v, false);
      const st = await this.#fs.lstat(real);
      if (st.kind !== 'directory') throw new FerryError('ERR_NOT_A_DIRECTORY', 'Not a directory');
      this.#require('delete_dirs', this.#permissionDirs(v, real));
      // A directory holding only hidden partials is not empty; they are resume state, kept on purpose.
      await this.#fs.rmdir(real);
    });
  }

  rename(from: string, to: string, options: { overwrite: boolean }): Promise<void> {
    return this.#audited(
      'rename',
      from,
      to,
      async () => {
        const vFrom = this.#virtual(from, 'lookup');
        const vTo = this.#virtual(to, 'create');
        if (vFrom === '/' || vTo === '/')
          throw new PermissionDeniedError('The home directory cannot be renamed');
        const realFrom = await this.#jail.resolve(vFrom, false);
        const realTo = await this.#jail.resolve(vTo, false);
        const src = await this.#fs.lstat(realFrom);
        const isDir = src.kind === 'directory';
        const permission = isDir ? 'rename_dirs' : 'rename_files';
        this.#require(permission, this.#permissionDirs(vFrom, realFrom));
        this.#require(permission, this.#permissionDirs(vTo, realTo));
        const dst = await this.#tryStat(realTo, false);
        if (dst) {
          if (!options.overwrite) throw new FerryError('ERR_ALREADY_EXISTS', 'Target exists');
          this.#require('overwrite', this.#permissionDirs(vTo, realTo));
        }
        // A directory carrying its own permission entries would take them along (or lose them).
        if (isDir && (this.#policy.hasEntriesWithin(vFrom) || this.#policy.hasEntriesWithin(vTo))) {
          throw new PermissionDeniedError('Directory has its own permissions and cannot be renamed');
        }
        // The new name must not grant more on the same content than the old one did (as for hard links).
        this.#requireNoMoreThan(this.#permissionDirs(vTo, realTo), this.#permissionDirs(vFrom, realFrom));
        if (options.overwrite || canDo(this.#fs, 'atomicNoReplace')) {
          // Without overwrite the kernel refuses an existing target atomically (RENAME_NOREPLACE).
          await this.#fs.rename(realFrom, realTo, { noReplace: !options.overwrite });
        } else {
          await renameWithoutReplacing(this.#fs, realFrom, realTo, isDir, this.#log);
        }
      },
      () => ({ overwrite: options.overwrite }),
    );
  }

  readlink(path: string): Promise<string> {
    return this.#run(async () => {
      const v = this.#virtual(path, 'lookup');
      const real = await this.#jail.resolve(v, false);
      this.#require('list', this.#permissionDirs(v, real));
      // Link text is stored as the client sent it and always read inside the home, so it is shown as is.
      return this.#fs.readlink(real);
    });
  }

  symlink(targetPath: string, linkPath: string): Promise<void> {
    return this.#audited('symlink', linkPath, targetPath, async () => {
      const vLink = this.#virtual(linkPath, 'create');
      if (vLink === '/') throw new FerryError('ERR_ALREADY_EXISTS', 'File exists');
      if (targetPath.includes('\0')) throw new InvalidPathError('Path contains a NUL byte');
      if (targetPath === '') throw new InvalidArgumentError('Empty link target');
      if (!canDo(this.#fs, 'symlinks')) {
        throw new UnsupportedError('Symlinks are not supported by this storage');
      }
      // Partial uploads are reachable by no name, a link's included (opens check again on what they opened).
      if (targetPath.split('/').some(isReservedName)) {
        throw new PermissionDeniedError('Name is reserved for uploads in progress');
      }
      const linkDir = virtualDirname(vLink);
      const realLinkDir = await this.#jail.resolve(linkDir, true);
      const realLink = posix.join(realLinkDir, virtualBasename(vLink));
      this.#require('create_symlinks', this.#permissionDirs(vLink, realLink));
      // Stored verbatim: the backend interprets link text inside the home only ('/' is the home, '..'
      // stops there), so where the link is moved later changes nothing about confinement.
      await this.#fs.symlink(targetPath, realLink);
    });
  }

  hardlink(existingPath: string, newPath: string): Promise<void> {
    return this.#audited('hardlink', newPath, existingPath, async () => {
      const vOld = this.#virtual(existingPath, 'lookup');
      const vNew = this.#virtual(newPath, 'create');
      if (!canDo(this.#fs, 'hardLinks'))
        throw new UnsupportedError('Hard links are not supported by this storage');
      const realOld = await this.#jail.resolve(vOld, false);
      const realNew = await this.#jail.resolve(vNew, false);
      const st = await this.#fs.lstat(realOld);
      if (st.kind === 'directory') throw new PermissionDeniedError('Directories cannot be hard-linked');
      const oldDirs = this.#permissionDirs(vOld, realOld);
      const newDirs = this.#permissionDirs(vNew, realNew);
      this.#require('create_symlinks', oldDirs);
      this.#require('create_symlinks', newDirs);
      this.#requireNoMoreThan(newDirs, oldDirs);
      await this.#fs.link(realOld, realNew);
    });
  }

  statvfs(path: string): Promise<StatVfs> {
    return this.#run(async () => {
      const v = this.#virtual(path, 'lookup');
      if (!canDo(this.#fs, 'statvfs'))
        throw new UnsupportedError('This storage reports no file system figures');
      const real = await this.#jail.resolve(v, true);
      const s = await this.#fs.statfs(real);
      return {
        bsize: s.bsize,
        frsize: s.bsize,
        blocks: s.blocks,
        bfree: s.bfree,
        bavail: s.bavail,
        files: s.files,
        ffree: s.ffree,
        favail: s.ffree,
        fsid: 0,
        flag: 0,
        namemax: s.namemax,
      };
    });
  }

  copyData(
    source: FileHandle,
    sourceOffset: number,
    length: number,
    target: FileHandle,
    targetOffset: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    let copied = 0;
    return this.#audited(
      'copy',
      source.path,
      target.path,
      async () => {
        if (!(source instanceof SessionFileHandle) || !this.#files.has(source)) {
          throw new InvalidArgumentError('Source is not an open handle of this session');
        }
        if (!(target instanceof SessionFileHandle) || !this.#files.has(target)) {
          throw new InvalidArgumentError('Target is not an open handle of this session');
        }
        if (!source.mode.read) throw new PermissionDeniedError('Source is not open for reading');
        if (!target.mode.write) throw new PermissionDeniedError('Target is not open for writing');
        for (const n of [sourceOffset, length, targetOffset]) {
          if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('Bad offset or length');
        }
        // Handles passed download (source) and upload/overwrite (target) when they were opened.
        this.#require('copy', [virtualDirname(source.path), virtualDirname(target.path)]);
        this.#require('download', [virtualDirname(source.path)]);
        this.#requireNoMoreThan(target.permissionDirs, source.permissionDirs);
        if (source.backendPath === target.backendPath) {
          const sourceEnd = length === 0 ? (await source.stat()).size : sourceOffset + length;
          const targetEnd = targetOffset + (sourceEnd - sourceOffset);
          if (sourceOffset < targetEnd && targetOffset < sourceEnd) {
            throw new InvalidArgumentError('Source and target ranges of the same file overlap');
          }
          // Fix the length now: a copy to the end of its own file must not chase its own writes.
          length = sourceEnd - sourceOffset;
          if (length === 0) return;
        }
        const end = length === 0 ? Number.POSITIVE_INFINITY : sourceOffset + length;
        let position = sourceOffset;
        while (position < end) {
          // The client left (or the connection did): stop copying between chunks.
          options.signal?.throwIfAborted();
          this.#resources.signal?.throwIfAborted();
          const chunk = await source.copyRead(position, Math.min(COPY_CHUNK, end - position));
          if (chunk.length === 0) break;
          await target.copyWrite(targetOffset + (position - sourceOffset), chunk);
          position += chunk.length;
          copied += chunk.length;
        }
        if (length !== 0 && position < end) throw new FerryError('ERR_IO', 'Source ended before the range');
      },
      () => ({ sourceOffset, targetOffset, length, bytes: copied }),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const files = [...this.#files];
    const dirs = [...this.#dirs];
    await Promise.all([...files.map((f) => f.abort()), ...dirs.map((d) => d.close())]);
    this.#files.clear();
    this.#dirs.clear();
    await this.#fs.dispose?.();
  }
}

/**
 * Rename that never replaces, on a backend that cannot refuse an existing target atomically: a hard link
 * (refused atomically when the name exists) then the old name removed; without hard links, the name is
 * claimed by an exclusive create (a file, or an empty directory) that the rename then replaces. Either way
 * an existing target is never overwritten, even by a racing rename or upload.
 */
async function renameWithoutReplacing(
  fs: Fs,
  from: string,
  to: string,
  isDir: boolean,
  log: Logger,
): Promise<void> {
  if (!isDir && canDo(fs, 'hardLinks')) {
    await fs.link(from, to);
    try {
      await fs.unlink(from);
    } catch (err) {
      await fs.unlink(to).catch((undoErr: unknown) => log.warn({ err: undoErr }, 'undoing a link failed'));
      throw err;
    }
    return;
  }
  if (isDir) await fs.mkdir(to, { mode: 0o700 });
  else {
    const placeholder = await fs.open(
      to,
      { read: false, write: true, create: true, exclusive: true, noFollow: true },
      0o600,
    );
    await placeholder.close();
  }
  try {
    await fs.rename(from, to);
  } catch (err) {
    await (isDir ? fs.rmdir(to) : fs.unlink(to)).catch((undoErr: unknown) =>
      log.warn({ err: undoErr }, 'removing a rename placeholder failed'),
    );
    throw err;
  }
}

/** A listing: '.' and '..' first, then the backend's batches with partial uploads filtered out. */
class SessionDirHandle implements DirHandle {
  readonly path: string;
  readonly #dir: FsDir;
  #head: DirEntry[] | undefined;
  readonly #toFileStat: (s: FsStat) => FileStat;
  readonly #onClose: () => void;
  #closed = false;

  constructor(
    path: string,
    dir: FsDir,
    head: DirEntry[],
    toFileStat: (s: FsStat) => FileStat,
    onClose: () => void,
  ) {
    this.path = path;
    this.#dir = dir;
    this.#head = head;
    this.#toFileStat = toFileStat;
    this.#onClose = onClose;
  }

  async read(): Promise<DirEntry[] | null> {
    try {
      if (this.#closed) throw new InvalidArgumentError('Directory handle is closed');
      const head = this.#head ?? [];
      this.#head = undefined;
      for (;;) {
        const batch = await this.#dir.read();
        if (batch === null) return head.length > 0 ? head : null;
        const visible = batch
          .filter((e) => !isReservedName(e.name))
          .map((e) => ({ name: e.name, stat: this.#toFileStat(e.stat) }));
        // A batch of nothing but partials must not end the listing early.
        if (visible.length > 0 || head.length > 0) return [...head, ...visible];
      }
    } catch (err) {
      throw toFerryError(err);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    try {
      await this.#dir.close();
    } catch (err) {
      throw toFerryError(err);
    }
  }
}
