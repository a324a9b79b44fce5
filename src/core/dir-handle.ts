// Directory handles of a session: opening a listing (permissions checked on what was opened) and reading it without partial uploads.
import { posix } from 'node:path';
import { FerryError, InvalidArgumentError, PermissionDeniedError, toFerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Fs, FsDir, FsStat } from '../vfs/types.js';
import type { HomeJail } from './home-jail.js';
import type { SessionPaths } from './session-paths.js';
import type { DirEntry, DirHandle, FileStat } from './types.js';
import { isReservedName } from './virtual-path.js';

/**
 * Opens a listing of the canonical virtual directory `v`: checks list permission where it is named and where
 * the kernel really opened it, and puts '.' and '..' first. `released` is told when the handle closes.
 */
export async function openDirHandle(
  v: string,
  ctx: { fs: Fs; jail: HomeJail; paths: SessionPaths; log: Logger },
  released: (handle: SessionDirHandle) => void,
): Promise<SessionDirHandle> {
  const real = await ctx.jail.resolve(v, true);
  const st = await ctx.fs.stat(real);
  if (st.kind !== 'directory') throw new FerryError('ERR_NOT_A_DIRECTORY', 'Not a directory');
  ctx.paths.require('list', ctx.paths.permissionDirs(v, real, true));
  const parentReal = real === ctx.jail.realHome ? real : posix.dirname(real);
  const parent = await ctx.paths.tryStat(parentReal, true);
  const dir = await ctx.fs.opendir(real);
  try {
    // The directory the kernel opened, whatever was swapped in since the check above.
    const where = dir.resolvedPath;
    if (where === null) throw new PermissionDeniedError('Directory is not inside the home');
    if (where !== undefined) ctx.paths.require('list', [where]);
  } catch (err) {
    await dir.close().catch((closeErr: unknown) => ctx.log.warn({ err: closeErr }, 'close failed'));
    throw err;
  }
  const handle = new SessionDirHandle(
    v,
    dir,
    [
      { name: '.', stat: ctx.paths.toFileStat(st) },
      { name: '..', stat: ctx.paths.toFileStat(parent ?? st) },
    ],
    (s) => ctx.paths.toFileStat(s),
    () => released(handle),
  );
  return handle;
}

/** A listing: '.' and '..' first, then the backend's batches with partial uploads filtered out. */
export class SessionDirHandle implements DirHandle {
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
