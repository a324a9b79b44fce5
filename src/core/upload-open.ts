// Opening files for a session: reads, in-place writes, and the claimed partials of atomic and resumed uploads.
import { FerryError, NotFoundError, PermissionDeniedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { withFields } from '../util/with-fields.js';
import { canDo, type Fs, type FsStat } from '../vfs/types.js';
import type { OpenedFile } from './handle-host.js';
import type { HomeJail } from './home-jail.js';
import type { ConcretePermission } from './permissions.js';
import type { SessionPaths } from './session-paths.js';
import type { OpenMode, SetAttrs } from './types.js';
import { admissionOf } from './upload-admission.js';
import { type ClusterUploadClaims, claimPartial, UploadInProgressError } from './upload-lock.js';
import { hasReservedComponent, virtualBasename, virtualDirname } from './virtual-path.js';

export class FileOpener {
  readonly #fs: Fs;
  readonly #jail: HomeJail;
  readonly #paths: SessionPaths;
  readonly #log: Logger;
  readonly #atomic: boolean;
  readonly #clusterClaims: () => ClusterUploadClaims | undefined;

  constructor(deps: {
    fs: Fs;
    jail: HomeJail;
    paths: SessionPaths;
    log: Logger;
    atomic: boolean;
    clusterClaims?: (() => ClusterUploadClaims | undefined) | undefined;
  }) {
    this.#fs = deps.fs;
    this.#jail = deps.jail;
    this.#paths = deps.paths;
    this.#log = deps.log;
    this.#atomic = deps.atomic;
    this.#clusterClaims = deps.clusterClaims ?? (() => undefined);
  }

  /** This process' claim on a partial, then the cluster's; the returned release gives back both. */
  async #claim(key: string, path: string): Promise<() => void> {
    const releaseLocal = claimPartial(key, path);
    const cluster = this.#clusterClaims();
    if (!cluster) return releaseLocal;
    try {
      if (!(await cluster.claim(key))) throw new UploadInProgressError(path);
    } catch (err) {
      releaseLocal();
      throw err;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      cluster.release(key);
      releaseLocal();
    };
  }

  /**
   * Opens the canonical virtual path `v` for a handle: checks its kind and permissions, picks the file (the
   * file itself, or the partial of an atomic upload, claimed), then confirms what the backend really opened.
   */
  async open(v: string, mode: OpenMode, attrs: SetAttrs): Promise<OpenedFile> {
    // The stat comes with the lookup of the name (undefined: nothing there yet).
    const { real, stat: existing } = await this.#jail.resolveEntry(v);
    // A symlink to an upload in progress: the partial is not reachable under any name.
    if (hasReservedComponent(real)) throw new NotFoundError();
    const dirs = this.#paths.permissionDirs(v, real);
    if (existing && existing.kind !== 'file') {
      // Directories, FIFOs and devices are never opened: a FIFO would block a worker thread forever.
      if (existing.kind === 'directory') throw new FerryError('ERR_IS_A_DIRECTORY', 'Is a directory');
      throw new PermissionDeniedError('Not a regular file');
    }
    if (mode.read) this.#paths.require('download', dirs);
    // Mode bits from the client need chmod where the file lives; setuid, setgid and sticky are never kept.
    const createAttrs =
      attrs.mode !== undefined &&
      this.#paths.policy.has('chmod', virtualDirname(v)) &&
      canDo(this.#fs, 'modes')
        ? attrs
        : {};
    return this.#confirmOpened(
      mode.write
        ? await this.#openForWrite(v, real, dirs, mode, createAttrs, existing)
        : await this.#openForRead(v, real, dirs, mode, existing),
      [
        ...(mode.read ? (['download'] as const) : []),
        ...(mode.write ? ([existing ? 'overwrite' : 'upload'] as const) : []),
      ],
    );
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
      for (const permission of permissions) this.#paths.require(permission, dirs);
      return dirs === opened.permissionDirs ? opened : withFields(opened, { permissionDirs: dirs });
    } catch (err) {
      await opened.file
        .close()
        .catch((closeErr: unknown) => this.#log.warn({ err: closeErr }, 'close failed'));
      opened.releaseClaim?.();
      throw err;
    }
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
    const atomic = this.#atomic || (mode.atomic === true && mode.truncate);
    if (existing) {
      if (mode.create && mode.exclusive) throw new FerryError('ERR_ALREADY_EXISTS', 'File exists');
      this.#paths.require('overwrite', dirs);
      if (!(atomic && mode.truncate)) {
        // Random writes or appends to a complete file happen in place (also in atomic mode).
        // Always readable: resume digests and check-file-handle read this descriptor, never a reopen by name.
        const file = await this.#fs.open(real, {
          read: true,
          write: true,
          truncate: mode.truncate,
          noFollow: true,
        });
        return withFields(base, {
          file,
          backendPath: real,
          sizeAtOpen: mode.truncate ? 0 : existing.size,
          createdNew: mode.truncate,
        });
      }
      // Replacing a complete file: readers keep seeing the old content until close(); keep its mode.
      const keepMode = canDo(this.#fs, 'modes') ? existing.mode & 0o777 : undefined;
      return this.#openPartial(base, real, true, createMode, keepMode);
    }
    // A partial left by an interrupted upload matters only to an open that may continue it: one without O_CREAT,
    // or one that neither truncates nor must create (a resume). A plain put truncates: no lookup for it.
    const mayContinue = !mode.create || !(mode.truncate || mode.exclusive);
    const partialExists =
      atomic &&
      mayContinue &&
      (await this.#paths.tryStat(this.#paths.partialOf(real), false))?.kind === 'file';
    // Without O_CREAT a missing file stays missing, except that a partial (what stat reports) may be continued.
    if (!mode.create && !partialExists) throw new NotFoundError();
    this.#paths.require('upload', dirs);
    if (atomic) {
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
    return withFields(base, { file, backendPath: real, sizeAtOpen: 0, createdNew: true });
  }

  async #openPartial(
    base: Pick<OpenedFile, 'path' | 'mode' | 'permissionDirs'>,
    real: string,
    fresh: boolean,
    createMode: number,
    keepMode?: number,
  ): Promise<OpenedFile> {
    const partial = this.#paths.partialOf(real);
    // Refused before the claim: the cluster's claim is a store write, which fails the same way the audit does.
    admissionOf(this.#fs)?.check();
    const releaseClaim = await this.#claim(this.#paths.claimKey(partial), base.path);
    try {
      const file = await this.#fs.open(
        partial,
        { read: true, write: true, create: true, truncate: fresh, noFollow: true },
        createMode,
      );
      try {
        if (keepMode !== undefined) await file.chmod(keepMode);
        const size = fresh ? 0 : (await file.stat()).size;
        return withFields(base, {
          file,
          backendPath: partial,
          finalPath: real,
          sizeAtOpen: size,
          createdNew: fresh,
          continuesPartial: !fresh,
          releaseClaim,
        });
      } catch (err) {
        await file.close().catch((closeErr: unknown) => this.#log.warn({ err: closeErr }, 'close failed'));
        throw err;
      }
    } catch (err) {
      releaseClaim();
      throw err;
    }
  }
}
