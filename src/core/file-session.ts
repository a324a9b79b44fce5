// The protocol-neutral file session: chroot, permissions, atomic/resumable uploads, limits and events over one Fs.

import { posix } from 'node:path';
import {
  FerryError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  toFerryError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { canDo, type Fs } from '../vfs/types.js';
import { type ActiveTransfers, latestProgress } from './active-transfers.js';
import { DEFAULT_MAX_HASH_BYTES } from './check-file.js';
import { copyBetweenHandles } from './copy-data.js';
import { openDirHandle, type SessionDirHandle } from './dir-handle.js';
import {
  createHardlink,
  createSymlink,
  type EntryContext,
  removeFile,
  renameEntry,
  setstatPath,
  statvfsOf,
} from './entry-ops.js';
import { SessionFileHandle } from './file-handle.js';
import type { FileSessionDeps } from './file-session-deps.js';
import type { HandleHost } from './handle-host.js';
import { HomeJail } from './home-jail.js';
import { PermissionPolicy } from './permissions.js';
import { SessionGate } from './pre-operation.js';
import { type FileOp, SessionEvents } from './session-events.js';
import { DEFAULT_MAX_OPEN_HANDLES, SessionHandles } from './session-handles.js';
import { SessionPaths } from './session-paths.js';
import { LocalTokenSource, sessionThrottles } from './shared-rates.js';
import type {
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
import { FileOpener } from './upload-open.js';
import {
  DEFAULT_PATH_LIMITS,
  hasReservedComponent,
  type PathLimits,
  resolveVirtualPath,
  virtualDirname,
} from './virtual-path.js';

export { VIRTUAL_ID_BASE } from './session-paths.js';

export function createFileSessionFactory(deps: FileSessionDeps): FileSessionFactory {
  // Without a source given (tests, embedders): the factory's own buckets, no server-wide cap.
  const own = new LocalTokenSource();
  const withThrottles: FileSessionDeps = {
    ...deps,
    throttles:
      deps.throttles ??
      ((identity) => sessionThrottles(own, identity.username, identity.rates, NO_SERVER_CAP)),
  };
  return (identity, resources) => new CoreFileSession(identity, withThrottles, resources);
}

const NO_SERVER_CAP = { upload: 0, download: 0 };

class CoreFileSession implements FileSession {
  readonly identity: SessionIdentity;
  readonly #fs: Fs;
  readonly #events: SessionEvents;
  readonly #log: Logger;
  readonly #jail: HomeJail;
  readonly #paths: SessionPaths;
  readonly #opener: FileOpener;
  readonly #entries: EntryContext;
  readonly #limits: PathLimits;
  readonly #atomic: boolean;
  readonly #handles: SessionHandles;
  readonly #host: HandleHost;
  readonly #gate: SessionGate;
  #closed = false;
  /** The home failed to open and that was logged (once per session). */
  #homeFailureLogged = false;
  readonly #resources: SessionResources;
  readonly #transfers: ActiveTransfers | undefined;
  /** Tells `#transfers` that a client's file handle is released. */
  readonly #transferClosed = new Map<SessionFileHandle, () => void>();
  readonly #progress = () => latestProgress(this.#handles.files);

  constructor(identity: SessionIdentity, deps: FileSessionDeps, resources: SessionResources = {}) {
    this.#resources = resources;
    this.identity = identity;
    this.#fs = deps.fs(identity);
    this.#log = deps.logger.child({ sessionId: identity.sessionId, user: identity.username });
    // The backend is rooted at the home, so the jail's view of the home is '/'; it only locates objects.
    this.#jail = new HomeJail(this.#fs, '/');
    this.#limits = {
      maxPathLength: deps.limits?.maxPathLength ?? DEFAULT_PATH_LIMITS.maxPathLength,
      maxComponentLength: DEFAULT_PATH_LIMITS.maxComponentLength,
    };
    this.#events = new SessionEvents(identity, deps.events, this.#limits);
    this.#paths = new SessionPaths(
      identity,
      this.#fs,
      this.#jail,
      new PermissionPolicy(identity.permissions),
      this.#limits,
      deps.limits?.maxFileSize ?? 0,
    );
    this.#gate = new SessionGate(identity, deps.preOperation, (f) => this.#events.emitTransfer(f), this.#log);
    this.#handles = new SessionHandles(
      deps.limits?.maxOpenHandles ?? DEFAULT_MAX_OPEN_HANDLES,
      resources.handles,
      () => this.#closed,
    );
    this.#transfers = deps.transfers;
    this.#transfers?.register(identity.sessionId, this.#progress);
    this.#atomic = (deps.uploadMode ?? 'atomic') === 'atomic';
    this.#entries = { fs: this.#fs, jail: this.#jail, paths: this.#paths, log: this.#log };
    this.#opener = new FileOpener({
      fs: this.#fs,
      jail: this.#jail,
      paths: this.#paths,
      log: this.#log,
      atomic: this.#atomic,
      clusterClaims: deps.clusterClaims,
    });
    this.#host = {
      fs: this.#fs,
      log: this.#log,
      toFileStat: (s) => this.#paths.toFileStat(s),
      require: (permission, dirs) => this.#paths.require(permission, dirs),
      emitTransfer: (fields) => this.#events.emitTransfer(fields),
      emitSetstat: (path, attrs, error) =>
        this.#events.emitFileOp('setstat', path, undefined, error, { ...attrs }),
      released: (handle) => {
        this.#transferClosed.get(handle as SessionFileHandle)?.();
        this.#transferClosed.delete(handle as SessionFileHandle);
        this.#handles.releaseFile(handle as SessionFileHandle);
      },
      checkFileSize: (size) => this.#paths.checkFileSize(size),
      maxHashBytes: deps.limits?.maxHashBytes ?? DEFAULT_MAX_HASH_BYTES,
      signal: resources.signal,
      throttle: deps.throttles?.(identity),
      transferAllowance: deps.transferAllowance?.(identity),
      emitChecksum: (path, detail, error) =>
        this.#events.emitFileOp('checksum', path, undefined, error, detail),
    };
  }

  // ---- session plumbing -----------------------------------------------------------------------

  async #begin(): Promise<void> {
    if (this.#closed) throw new FerryError('ERR_IO', 'File session is closed');
    try {
      await this.#jail.ready();
    } catch (err) {
      // Every request of the session fails the same way, and the client sees only a status: say it here, once.
      if (!this.#homeFailureLogged) this.#log.warn({ err }, 'the home directory cannot be opened');
      this.#homeFailureLogged = true;
      throw err;
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
      this.#events.emitFileOp(operation, path, target, undefined, detail?.());
      return result;
    } catch (err) {
      this.#events.emitFileOp(operation, path, target, err, detail?.());
      throw err;
    }
  }

  // ---- FileSession ----------------------------------------------------------------------------

  realpath(path: string): Promise<string> {
    return this.#run(async () => {
      const v = resolveVirtualPath(path, this.#limits);
      const real = await this.#jail.resolve(v, true);
      if (v !== '/' && (await this.#paths.tryStat(posix.dirname(real), true)) === undefined) {
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
      const v = this.#paths.virtual(path, 'lookup');
      const real = await this.#jail.resolve(v, follow);
      if (hasReservedComponent(real)) throw new NotFoundError();
      this.#paths.require('list', this.#paths.permissionDirs(v, real));
      const st = await this.#paths.tryStat(real, follow);
      if (st) return this.#paths.toFileStat(st);
      // Resume support: `reput`/`put -a` stat the target to learn how much arrived. While only the
      // partial exists we report its attributes under the target's name. Trade-off: a stat can show a
      // name that open-for-read and listings do not (yet) show.
      if (this.#atomic) {
        const partial = await this.#paths.tryStat(this.#paths.partialOf(real), false);
        if (partial?.kind === 'file') return this.#paths.toFileStat(partial);
      }
      throw new NotFoundError();
    });
  }

  setstat(path: string, attrs: SetAttrs, options: { followSymlinks?: boolean } = {}): Promise<void> {
    return this.#audited(
      'setstat',
      path,
      undefined,
      () => setstatPath(this.#entries, path, attrs, options),
      () => ({ ...attrs }),
    );
  }

  openFile(path: string, mode: OpenMode, attrs: SetAttrs = {}): Promise<FileHandle> {
    return this.#run(async () => {
      if (!mode.read && !mode.write) throw new InvalidArgumentError('Open for neither reading nor writing');
      const v = this.#paths.virtual(path, mode.write && mode.create ? 'create' : 'lookup');
      await this.#gate.open(v, mode, attrs.size);
      // Nothing left of a transfer quota: refused before a file is created or a byte sent.
      await this.#host.transferAllowance?.admit(mode.write ? 'upload' : 'download', attrs.size);
      return this.#handles.withSlot(() => this.#openFile(v, mode, attrs));
    });
  }

  async #openFile(v: string, mode: OpenMode, attrs: SetAttrs): Promise<SessionFileHandle> {
    const handle = new SessionFileHandle(this.#host, await this.#opener.open(v, mode, attrs));
    this.#handles.files.add(handle);
    // A client's transfer makes the process busy (rule deliveries let it go first); a rule's own copy does not.
    if (this.identity.protocol !== 'rule' && this.#transfers)
      this.#transferClosed.set(handle, this.#transfers.opened());
    return handle;
  }

  openDir(path: string): Promise<DirHandle> {
    return this.#run(async () => {
      const v = this.#paths.virtual(path, 'lookup');
      return this.#handles.withSlot(() => this.#openDir(v));
    });
  }

  async #openDir(v: string): Promise<SessionDirHandle> {
    const handle = await openDirHandle(v, this.#entries, (closed) => this.#handles.releaseDir(closed));
    this.#handles.dirs.add(handle);
    return handle;
  }

  remove(path: string): Promise<void> {
    return this.#audited('delete', path, undefined, async () => {
      await this.#gate.check('delete', this.#paths.virtual(path, 'lookup'));
      await removeFile(this.#entries, path, this.#atomic);
    });
  }

  mkdir(path: string, attrs: SetAttrs = {}): Promise<void> {
    return this.#audited('mkdir', path, undefined, async () => {
      const v = this.#paths.virtual(path, 'create');
      if (v === '/') throw new FerryError('ERR_ALREADY_EXISTS', 'File exists');
      const real = await this.#jail.resolve(v, false);
      this.#paths.require('create_dirs', this.#paths.permissionDirs(v, real));
      const chmodAllowed =
        attrs.mode !== undefined &&
        this.#paths.policy.has('chmod', virtualDirname(v)) &&
        canDo(this.#fs, 'modes');
      await this.#fs.mkdir(real, { mode: chmodAllowed ? attrs.mode! & 0o777 : 0o777 });
    });
  }

  rmdir(path: string): Promise<void> {
    return this.#audited('rmdir', path, undefined, async () => {
      const v = this.#paths.virtual(path, 'lookup');
      if (v === '/') throw new PermissionDeniedError('The home directory cannot be removed');
      const real = await this.#jail.resolve(v, false);
      const st = await this.#fs.lstat(real);
      if (st.kind !== 'directory') throw new FerryError('ERR_NOT_A_DIRECTORY', 'Not a directory');
      this.#paths.require('delete_dirs', this.#paths.permissionDirs(v, real));
      // A directory holding only hidden partials is not empty; they are resume state, kept on purpose.
      await this.#fs.rmdir(real);
    });
  }

  rename(from: string, to: string, options: { overwrite: boolean }): Promise<void> {
    let byCopy = false;
    return this.#audited(
      'rename',
      from,
      to,
      async () => {
        byCopy = (await renameEntry(this.#entries, from, to, options)).byCopy;
      },
      // A move between virtual folders is a copy then a delete: the record says so.
      () => ({ overwrite: options.overwrite, ...(byCopy ? { byCopy: true } : {}) }),
    );
  }

  readlink(path: string): Promise<string> {
    return this.#run(async () => {
      const v = this.#paths.virtual(path, 'lookup');
      const real = await this.#jail.resolve(v, false);
      this.#paths.require('list', this.#paths.permissionDirs(v, real));
      // Link text is stored as the client sent it and always read inside the home, so it is shown as is.
      return this.#fs.readlink(real);
    });
  }

  symlink(targetPath: string, linkPath: string): Promise<void> {
    return this.#audited('symlink', linkPath, targetPath, () =>
      createSymlink(this.#entries, targetPath, linkPath),
    );
  }

  hardlink(existingPath: string, newPath: string): Promise<void> {
    return this.#audited('hardlink', newPath, existingPath, () =>
      createHardlink(this.#entries, existingPath, newPath),
    );
  }

  statvfs(path: string): Promise<StatVfs> {
    return this.#run(() => statvfsOf(this.#entries, path));
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
        if (!(source instanceof SessionFileHandle) || !this.#handles.files.has(source)) {
          throw new InvalidArgumentError('Source is not an open handle of this session');
        }
        if (!(target instanceof SessionFileHandle) || !this.#handles.files.has(target)) {
          throw new InvalidArgumentError('Target is not an open handle of this session');
        }
        await copyBetweenHandles(
          { source, sourceOffset, length, target, targetOffset },
          this.#paths,
          [options.signal, this.#resources.signal],
          (n) => {
            copied += n;
          },
        );
      },
      () => ({ sourceOffset, targetOffset, length, bytes: copied }),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#transfers?.unregister(this.identity.sessionId, this.#progress);
    await this.#handles.closeAll();
    await this.#fs.dispose?.();
  }
}
