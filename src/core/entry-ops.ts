// Entry operations of a session by path: SETSTAT, delete, rename (never replacing when asked not to, on any backend), links, statvfs.
import { posix } from 'node:path';
import {
  FerryError,
  InvalidArgumentError,
  InvalidPathError,
  NotFoundError,
  PermissionDeniedError,
  UnsupportedError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { canDo, type Fs } from '../vfs/types.js';
import type { HomeJail } from './home-jail.js';
import type { SessionPaths } from './session-paths.js';
import type { SetAttrs, StatVfs } from './types.js';
import { isPartialClaimed, UploadInProgressError } from './upload-lock.js';
import { hasReservedComponent, isReservedName, virtualBasename, virtualDirname } from './virtual-path.js';

/** What an entry operation needs from its session. */
export interface EntryContext {
  readonly fs: Fs;
  readonly jail: HomeJail;
  readonly paths: SessionPaths;
  readonly log: Logger;
}

/** SETSTAT by path: everything is checked before anything changes. */
export async function setstatPath(
  ctx: EntryContext,
  path: string,
  attrs: SetAttrs,
  options: { followSymlinks?: boolean },
): Promise<void> {
  const follow = options.followSymlinks ?? true;
  const v = ctx.paths.virtual(path, 'lookup');
  const real = await ctx.jail.resolve(v, follow);
  if (hasReservedComponent(real)) throw new NotFoundError();
  const st = await (follow ? ctx.fs.stat(real) : ctx.fs.lstat(real));
  const dirs = ctx.paths.permissionDirs(v, real, st.kind === 'directory');
  // Check everything first: a denied part must leave nothing changed.
  if (attrs.mode !== undefined) ctx.paths.require('chmod', dirs);
  if (attrs.atime !== undefined || attrs.mtime !== undefined) ctx.paths.require('chtimes', dirs);
  if (attrs.size !== undefined) {
    ctx.paths.require('overwrite', dirs);
    if (st.kind !== 'file') throw new InvalidArgumentError('Only regular files can be resized');
    if (!Number.isSafeInteger(attrs.size) || attrs.size < 0) throw new InvalidArgumentError('Bad size');
    ctx.paths.checkFileSize(attrs.size);
  }
  if (attrs.mode !== undefined && st.kind === 'symlink') {
    throw new FerryError('ERR_UNSUPPORTED', 'The mode of a symlink cannot be changed');
  }
  if (attrs.mode !== undefined && !canDo(ctx.fs, 'modes')) {
    throw new UnsupportedError('This storage keeps no permission bits');
  }
  // uid/gid are ignored on purpose: ownership is not changeable through Ferry (one server account owns every file).
  if (attrs.size !== undefined) {
    const file = await ctx.fs.open(real, { read: false, write: true, noFollow: true });
    try {
      await file.truncate(attrs.size);
    } finally {
      await file.close();
    }
  }
  // setuid, setgid and sticky are never set: files here are data, never programs run by someone else.
  if (attrs.mode !== undefined) await ctx.fs.chmod(real, attrs.mode & 0o777);
  if (attrs.atime !== undefined || attrs.mtime !== undefined) {
    await ctx.fs.utimes(real, attrs.atime ?? st.atimeMs / 1000, attrs.mtime ?? st.mtimeMs / 1000, {
      followSymlinks: follow,
    });
  }
}

/**
 * Rename within the home; without overwrite an existing target is never replaced, whatever the backend. `byCopy`:
 * the storage moved it by copy and delete (between virtual folders).
 */
export async function renameEntry(
  ctx: EntryContext,
  from: string,
  to: string,
  options: { overwrite: boolean },
): Promise<{ byCopy: boolean }> {
  const vFrom = ctx.paths.virtual(from, 'lookup');
  const vTo = ctx.paths.virtual(to, 'create');
  if (vFrom === '/' || vTo === '/') throw new PermissionDeniedError('The home directory cannot be renamed');
  const realFrom = await ctx.jail.resolve(vFrom, false);
  const realTo = await ctx.jail.resolve(vTo, false);
  const src = await ctx.fs.lstat(realFrom);
  const isDir = src.kind === 'directory';
  const permission = isDir ? 'rename_dirs' : 'rename_files';
  ctx.paths.require(permission, ctx.paths.permissionDirs(vFrom, realFrom));
  ctx.paths.require(permission, ctx.paths.permissionDirs(vTo, realTo));
  const dst = await ctx.paths.tryStat(realTo, false);
  if (dst) {
    if (!options.overwrite) throw new FerryError('ERR_ALREADY_EXISTS', 'Target exists');
    ctx.paths.require('overwrite', ctx.paths.permissionDirs(vTo, realTo));
  }
  // A directory carrying its own permission entries would take them along (or lose them).
  if (isDir && (ctx.paths.policy.hasEntriesWithin(vFrom) || ctx.paths.policy.hasEntriesWithin(vTo))) {
    throw new PermissionDeniedError('Directory has its own permissions and cannot be renamed');
  }
  // The new name must not grant more on the same content than the old one did (as for hard links).
  ctx.paths.requireNoMoreThan(
    ctx.paths.permissionDirs(vTo, realTo),
    ctx.paths.permissionDirs(vFrom, realFrom),
  );
  const byCopy = ctx.fs.movesByCopy?.(realFrom, realTo) ?? false;
  if (byCopy || options.overwrite || canDo(ctx.fs, 'atomicNoReplace')) {
    // Without overwrite the kernel refuses an existing target atomically (RENAME_NOREPLACE); a copy is published
    // the same way by the view that makes it.
    await ctx.fs.rename(realFrom, realTo, { noReplace: !options.overwrite });
  } else {
    await renameWithoutReplacing(ctx.fs, realFrom, realTo, isDir, ctx.log);
  }
  return { byCopy };
}

/** A symlink whose text is stored verbatim (the backend reads it inside the home only). */
export async function createSymlink(ctx: EntryContext, targetPath: string, linkPath: string): Promise<void> {
  const vLink = ctx.paths.virtual(linkPath, 'create');
  if (vLink === '/') throw new FerryError('ERR_ALREADY_EXISTS', 'File exists');
  if (targetPath.includes('\0')) throw new InvalidPathError('Path contains a NUL byte');
  if (targetPath === '') throw new InvalidArgumentError('Empty link target');
  if (!canDo(ctx.fs, 'symlinks')) {
    throw new UnsupportedError('Symlinks are not supported by this storage');
  }
  // Partial uploads are reachable by no name, a link's included (opens check again on what they opened).
  if (targetPath.split('/').some(isReservedName)) {
    throw new PermissionDeniedError('Name is reserved for uploads in progress');
  }
  const linkDir = virtualDirname(vLink);
  const realLinkDir = await ctx.jail.resolve(linkDir, true);
  const realLink = posix.join(realLinkDir, virtualBasename(vLink));
  ctx.paths.require('create_symlinks', ctx.paths.permissionDirs(vLink, realLink));
  // Stored verbatim: the backend interprets link text inside the home only ('/' is the home, '..'
  // stops there), so where the link is moved later changes nothing about confinement.
  await ctx.fs.symlink(targetPath, realLink);
}

/** A hard link that gives the content no more rights than its source folder had. */
export async function createHardlink(
  ctx: EntryContext,
  existingPath: string,
  newPath: string,
): Promise<void> {
  const vOld = ctx.paths.virtual(existingPath, 'lookup');
  const vNew = ctx.paths.virtual(newPath, 'create');
  if (!canDo(ctx.fs, 'hardLinks')) throw new UnsupportedError('Hard links are not supported by this storage');
  const realOld = await ctx.jail.resolve(vOld, false);
  const realNew = await ctx.jail.resolve(vNew, false);
  const st = await ctx.fs.lstat(realOld);
  if (st.kind === 'directory') throw new PermissionDeniedError('Directories cannot be hard-linked');
  const oldDirs = ctx.paths.permissionDirs(vOld, realOld);
  const newDirs = ctx.paths.permissionDirs(vNew, realNew);
  ctx.paths.require('create_symlinks', oldDirs);
  ctx.paths.require('create_symlinks', newDirs);
  ctx.paths.requireNoMoreThan(newDirs, oldDirs);
  await ctx.fs.link(realOld, realNew);
}

/** Deletes a file, or (atomic uploads) the partial of an abandoned upload that stat reported under its name. */
export async function removeFile(ctx: EntryContext, path: string, atomic: boolean): Promise<void> {
  const v = ctx.paths.virtual(path, 'lookup');
  const real = await ctx.jail.resolve(v, false);
  const dirs = ctx.paths.permissionDirs(v, real);
  const st = await ctx.paths.tryStat(real, false);
  if (!st) {
    // Deleting what stat reported: a user may abandon an interrupted upload's partial.
    const partial = ctx.paths.partialOf(real);
    if (atomic && (await ctx.paths.tryStat(partial, false))?.kind === 'file') {
      ctx.paths.require('delete_files', dirs);
      if (isPartialClaimed(ctx.paths.claimKey(partial))) throw new UploadInProgressError(v);
      await ctx.fs.unlink(partial);
      return;
    }
    throw new NotFoundError();
  }
  if (st.kind === 'directory') throw new FerryError('ERR_IS_A_DIRECTORY', 'Is a directory');
  ctx.paths.require('delete_files', dirs);
  await ctx.fs.unlink(real);
}

/** File system figures for statvfs@openssh.com. */
export async function statvfsOf(ctx: EntryContext, path: string): Promise<StatVfs> {
  const v = ctx.paths.virtual(path, 'lookup');
  if (!canDo(ctx.fs, 'statvfs')) throw new UnsupportedError('This storage reports no file system figures');
  const real = await ctx.jail.resolve(v, true);
  const s = await ctx.fs.statfs(real);
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
}

/**
 * Rename that never replaces, on a backend that cannot refuse an existing target atomically: a hard link
 * (refused atomically when the name exists) then the old name removed; without hard links, the name is
 * claimed by an exclusive create (a file, or an empty directory) that the rename then replaces. Either way
 * an existing target is never overwritten, even by a racing rename or upload.
 */
export async function renameWithoutReplacing(
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
