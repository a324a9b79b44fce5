// Virtual folders: one file system view composed from the home and folders mounted at virtual paths, each its own rooted Fs.
import { posix } from 'node:path';
import { ConfigError, FerryError, PermissionDeniedError, UnsupportedError } from '../errors.js';
import { ViewDir, ViewFile } from './mount-view.js';
import type { Fs, FsCapabilities, FsDir, FsFile, FsOpenFlags, FsStat, FsStatfs } from './types.js';

/** A folder mounted at `path` (canonical, absolute, not '/'); `fs` is rooted at the folder's own directory. */
export interface Mount {
  readonly path: string;
  readonly fs: Fs;
}

export interface MountFsOptions {
  /** A hidden name next to `path` for a move's copy in progress (the core's partial names, which users never see). */
  readonly partialOf: (path: string) => string;
  /** Told after a rename between two backends was done by copy and delete. */
  readonly onCopyMove?: (from: string, to: string, bytes: number) => void;
}

const COPY_CHUNK = 256 * 1024;
const CAPABILITY_NAMES: readonly (keyof FsCapabilities)[] = [
  'randomWrites',
  'randomReads',
  'atomicRename',
  'atomicNoReplace',
  'hardLinks',
  'symlinks',
  'statvfs',
  'modes',
  'ownership',
];

interface Route {
  readonly fs: Fs;
  /** The path inside `fs`. */
  readonly sub: string;
  /** The mount's path ('' for the home). */
  readonly prefix: string;
}

function isWithin(ancestor: string, path: string): boolean {
  return path === ancestor || path.startsWith(`${ancestor}/`);
}

function isNotFound(err: unknown): boolean {
  return err instanceof FerryError && err.code === 'ERR_NOT_FOUND';
}

/**
 * A path-prefix router: paths under a mount go to that mount's Fs (with the mount's path taken off), everything
 * else to the home. Every backend keeps its own confinement (for the local disk, the kernel's: a symlink or '..'
 * inside a folder resolves inside that folder, never in the home or another folder), and the router refuses
 * whatever would name one backend's object through another's path: a home path that resolves onto a name a
 * mount covers, a symlink whose text leads out of its backend. A mount point is a directory of the parent's
 * listing that cannot be removed or renamed. Renames between backends are a copy then a delete (files only).
 */
export class MountFs implements Fs {
  readonly #home: Fs;
  /** Deepest first. */
  readonly #mounts: readonly Mount[];
  readonly #options: MountFsOptions;
  readonly capabilities: FsCapabilities;

  constructor(home: Fs, mounts: readonly Mount[], options: MountFsOptions) {
    for (const m of mounts) {
      if (
        m.path === '/' ||
        posix.normalize(m.path) !== m.path ||
        !posix.isAbsolute(m.path) ||
        m.path.endsWith('/')
      )
        throw new ConfigError(
          `virtual folder path must be a canonical absolute path other than /: ${m.path}`,
        );
      const clash = mounts.find((o) => o !== m && (isWithin(o.path, m.path) || isWithin(m.path, o.path)));
      if (clash) throw new ConfigError(`virtual folders ${m.path} and ${clash.path} overlap`);
    }
    this.#home = home;
    this.#mounts = [...mounts].sort((a, b) => b.path.length - a.path.length);
    this.#options = options;
    const all = [home, ...mounts.map((m) => m.fs)];
    const caps: Record<string, boolean> = {};
    for (const name of CAPABILITY_NAMES) caps[name] = all.every((fs) => fs.capabilities?.[name] !== false);
    this.capabilities = caps as FsCapabilities;
  }

  #route(path: string): Route {
    for (const m of this.#mounts) {
      if (path === m.path) return { fs: m.fs, sub: '/', prefix: m.path };
      if (path.startsWith(`${m.path}/`)) return { fs: m.fs, sub: path.slice(m.path.length), prefix: m.path };
    }
    return { fs: this.#home, sub: path, prefix: '' };
  }

  #isMountPoint(path: string): boolean {
    return this.#mounts.some((m) => m.path === path);
  }

  /** True for a home directory that holds a mount somewhere below it (the home's root included). */
  #holdsMount(path: string): boolean {
    const prefix = path === '/' ? '/' : `${path}/`;
    return this.#mounts.some((m) => m.path.startsWith(prefix));
  }

  /** A backend's own path back in this view, or null when the view shows something else under that name. */
  #toView(route: Route, inner: string | null | undefined): string | null | undefined {
    if (inner === null || inner === undefined) return inner;
    const full = route.prefix === '' ? inner : inner === '/' ? route.prefix : route.prefix + inner;
    return this.#route(full).fs === route.fs ? full : null;
  }

  #refuseStructural(path: string, what: string): void {
    if (this.#isMountPoint(path))
      throw new PermissionDeniedError(`${path} is a virtual folder and cannot be ${what}`);
    if (path !== '/' && this.#holdsMount(path))
      throw new PermissionDeniedError(`${path} holds a virtual folder and cannot be ${what}`);
  }

  /** A directory the view shows because mounts lie below it, though the home has none there. */
  #synthetic(): FsStat {
    const now = Date.now();
    return {
      kind: 'directory',
      mode: 0o40555,
      size: 0,
      uid: 0,
      gid: 0,
      nlink: 2,
      atimeMs: now,
      mtimeMs: now,
    };
  }

  async #statOf(path: string, follow: boolean): Promise<FsStat> {
    const r = this.#route(path);
    try {
      return follow ? await r.fs.stat(r.sub) : await r.fs.lstat(r.sub);
    } catch (err) {
      if (r.fs === this.#home && isNotFound(err) && this.#holdsMount(path)) return this.#synthetic();
      throw err;
    }
  }

  stat(path: string): Promise<FsStat> {
    return this.#statOf(path, true);
  }

  lstat(path: string): Promise<FsStat> {
    return this.#statOf(path, false);
  }

  async realpath(path: string): Promise<string> {
    const r = this.#route(path);
    let inner: string;
    try {
      inner = await r.fs.realpath(r.sub);
    } catch (err) {
      if (r.fs === this.#home && isNotFound(err) && this.#holdsMount(path)) return path;
      throw err;
    }
    const view = this.#toView(r, inner);
    if (!view) throw new PermissionDeniedError('Path leads to a name a virtual folder covers');
    return view;
  }

  /**
   * Where a symlink's text leads, as a path of this view: inside the link's own backend, as that backend (the
   * kernel, for the local disk) reads it ('/' is the backend's root and '..' stops there). Refused when the
   * result is a name another backend covers: the link cannot reach it, and the view must not pretend it does.
   */
  linkTarget(linkPath: string, text: string): string {
    const r = this.#route(linkPath);
    const inner =
      r.prefix !== '' && posix.isAbsolute(text) && isWithin(r.prefix, posix.normalize(text))
        ? posix.normalize(text).slice(r.prefix.length) || '/'
        : posix.resolve(posix.dirname(r.sub), text);
    const view = this.#toView(r, inner);
    if (!view) throw new PermissionDeniedError('Symlink leads out of its folder');
    return view;
  }

  async open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    const r = this.#route(path);
    const file = await r.fs.open(r.sub, flags, mode);
    return new ViewFile(file, this.#toView(r, file.resolvedPath));
  }

  async opendir(path: string): Promise<FsDir> {
    const r = this.#route(path);
    let dir: FsDir | undefined;
    try {
      dir = await r.fs.opendir(r.sub);
    } catch (err) {
      if (!(r.fs === this.#home && isNotFound(err) && this.#holdsMount(path))) throw err;
    }
    const resolved = dir ? this.#toView(r, dir.resolvedPath) : path;
    if (r.fs !== this.#home) return new ViewDir(dir!, resolved, new Map());
    // The names this directory shows for mounts: a mount point, or a directory leading to one.
    const shown = new Map<string, () => Promise<FsStat>>();
    const prefix = path === '/' ? '/' : `${path}/`;
    for (const m of this.#mounts) {
      if (!m.path.startsWith(prefix)) continue;
      const name = m.path.slice(prefix.length).split('/')[0]!;
      const child = prefix + name;
      shown.set(name, () => this.#statOf(child, false));
    }
    return new ViewDir(dir, resolved, shown);
  }

  async mkdir(path: string, options?: { mode?: number; recursive?: boolean }): Promise<void> {
    if (this.#isMountPoint(path)) {
      if (options?.recursive) return;
      throw new FerryError('ERR_ALREADY_EXISTS', `${path} is a virtual folder`);
    }
    const r = this.#route(path);
    await r.fs.mkdir(r.sub, options);
  }

  async rmdir(path: string): Promise<void> {
    this.#refuseStructural(path, 'removed');
    const r = this.#route(path);
    await r.fs.rmdir(r.sub);
  }

  async unlink(path: string): Promise<void> {
    this.#refuseStructural(path, 'removed');
    const r = this.#route(path);
    await r.fs.unlink(r.sub);
  }

  async rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    this.#refuseStructural(from, 'renamed');
    this.#refuseStructural(to, 'replaced');
    const a = this.#route(from);
    const b = this.#route(to);
    if (a.fs === b.fs) return a.fs.rename(a.sub, b.sub, options);
    await this.#copyMove(a, b, from, to, options?.noReplace === true);
  }

  movesByCopy(from: string, to: string): boolean {
    return this.#route(from).fs !== this.#route(to).fs;
  }

  /**
   * A rename between two backends: the file is copied to a hidden name in the target's directory, published
   * there by a rename (never replacing when asked not to), and only then is the source deleted. Directories
   * and symlinks are refused: a tree copy cannot be made atomic, and a link's text means another root there.
   */
  async #copyMove(a: Route, b: Route, from: string, to: string, noReplace: boolean): Promise<void> {
    const st = await a.fs.lstat(a.sub);
    if (st.kind !== 'file')
      throw new UnsupportedError(
        `${from} is not a regular file: only files can be moved between virtual folders (by copy and delete)`,
      );
    const temp = this.#options.partialOf(b.sub);
    const source = await a.fs.open(a.sub, { read: true, write: false, noFollow: true });
    let copied = 0;
    try {
      const target = await b.fs.open(
        temp,
        { read: false, write: true, create: true, exclusive: true, noFollow: true },
        st.mode & 0o777,
      );
      try {
        for (;;) {
          const chunk = await source.read(copied, COPY_CHUNK);
          if (chunk.length === 0) break;
          await target.write(copied, chunk);
          copied += chunk.length;
        }
        await target.sync();
        await target.utimes(st.atimeMs / 1000, st.mtimeMs / 1000);
      } finally {
        await target.close();
      }
      await b.fs.rename(temp, b.sub, { noReplace });
    } catch (err) {
      await b.fs.unlink(temp).catch(() => undefined);
      throw err;
    } finally {
      await source.close();
    }
    try {
      await a.fs.unlink(a.sub);
    } catch (err) {
      throw new FerryError('ERR_IO', `${from} was copied to ${to} but could not be deleted`, { cause: err });
    }
    this.#options.onCopyMove?.(from, to, copied);
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    this.#refuseStructural(existingPath, 'linked');
    const a = this.#route(existingPath);
    const b = this.#route(newPath);
    if (a.fs !== b.fs) throw new UnsupportedError('Hard links between virtual folders are not possible');
    await a.fs.link(a.sub, b.sub);
  }

  async symlink(target: string, path: string): Promise<void> {
    const r = this.#route(path);
    // Where the link would lead, checked only to say so now: the backend reads it inside its own root anyway.
    this.linkTarget(path, target);
    const text =
      r.prefix !== '' && posix.isAbsolute(target) && isWithin(r.prefix, posix.normalize(target))
        ? posix.normalize(target).slice(r.prefix.length) || '/'
        : target;
    await r.fs.symlink(text, r.sub);
  }

  /** A folder's absolute link text is shown as the view's path (the folder's '/' is the mount point). */
  async readlink(path: string): Promise<string> {
    const r = this.#route(path);
    const text = await r.fs.readlink(r.sub);
    if (r.prefix === '' || !posix.isAbsolute(text)) return text;
    const inner = posix.resolve('/', text);
    return inner === '/' ? r.prefix : r.prefix + inner;
  }

  async chmod(path: string, mode: number): Promise<void> {
    const r = this.#route(path);
    await r.fs.chmod(r.sub, mode);
  }

  async utimes(
    path: string,
    atime: number,
    mtime: number,
    options?: { followSymlinks?: boolean },
  ): Promise<void> {
    const r = this.#route(path);
    await r.fs.utimes(r.sub, atime, mtime, options);
  }

  async statfs(path: string): Promise<FsStatfs> {
    const r = this.#route(path);
    try {
      return await r.fs.statfs(r.sub);
    } catch (err) {
      if (r.fs === this.#home && isNotFound(err) && this.#holdsMount(path)) return this.#home.statfs('/');
      throw err;
    }
  }

  async dispose(): Promise<void> {
    await Promise.all([this.#home, ...this.#mounts.map((m) => m.fs)].map((fs) => fs.dispose?.()));
  }
}
