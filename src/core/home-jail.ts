// Locates where a virtual path's symlinks lead inside the home, for per-folder permission checks; confinement itself is the backend's.
import { posix } from 'node:path';
import { FerryError, InvalidPathError, PermissionDeniedError } from '../errors.js';
import type { Fs, FsStat } from '../vfs/types.js';

/** Same bound as the kernel's MAXSYMLINKS (40). */
const MAX_SYMLINK_HOPS = 40;

function isNotFound(err: unknown): boolean {
  return err instanceof FerryError && err.code === 'ERR_NOT_FOUND';
}

/**
 * Sessions use it on an Fs rooted at the home (home '/'), where the kernel already keeps every path inside:
 * this class only answers "which folder does this path really end up in" (the deepest existing ancestor
 * realpath'd, hops through dangling links followed by hand, link text read as the backend reads it), so
 * per-folder permissions hold on where a link leads as well as on the name used. A swap between this answer
 * and the operation can only move the operation elsewhere inside the home; opens are checked again on what
 * the kernel really opened (FileSession #confirmOpened). On an unrooted Fs it still refuses paths outside
 * `homeDir` (the path fuzzer uses it that way).
 */
export class HomeJail {
  readonly #fs: Fs;
  readonly #homeDir: string;
  #realHome: string | undefined;
  #ready: Promise<void> | undefined;

  constructor(fs: Fs, homeDir: string) {
    if (!posix.isAbsolute(homeDir)) throw new InvalidPathError(`Home directory must be absolute: ${homeDir}`);
    this.#fs = fs;
    this.#homeDir = posix.normalize(homeDir).replace(/(.)\/+$/, '$1');
  }

  /** Creates the home (0700) when missing and learns its real path; idempotent, retried after a failure. */
  ready(): Promise<void> {
    this.#ready ??= this.#init().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #init(): Promise<void> {
    try {
      await this.#fs.mkdir(this.#homeDir, { mode: 0o700, recursive: true });
    } catch (err) {
      // A concurrent session may have created it; anything else surfaces from realpath below.
      if (!(err instanceof FerryError && err.code === 'ERR_ALREADY_EXISTS')) throw err;
    }
    this.#realHome = await this.#fs.realpath(this.#homeDir);
  }

  get realHome(): string {
    if (this.#realHome === undefined) throw new Error('HomeJail used before ready()');
    return this.#realHome;
  }

  /** The real path a canonical virtual path names, before any symlink is looked at. */
  lexicalReal(virtualPath: string): string {
    return virtualPath === '/' ? this.realHome : this.realHome.replace(/\/$/, '') + virtualPath;
  }

  isInside(realPath: string): boolean {
    const home = this.realHome;
    return home === '/' || realPath === home || realPath.startsWith(`${home}/`);
  }

  /** The virtual path of a real path inside the home (either spelling of the home), or null. */
  toVirtual(realPath: string): string | null {
    for (const home of [this.realHome, this.#homeDir]) {
      if (realPath === home) return '/';
      const prefix = home === '/' ? '/' : `${home}/`;
      if (realPath.startsWith(prefix)) return `/${realPath.slice(prefix.length)}`;
    }
    return null;
  }

  /**
   * The real path to operate on for a canonical virtual path, every symlink resolved except (when
   * followLast is false) the last component. Throws PermissionDeniedError when it leaves the home.
   */
  resolve(virtualPath: string, followLast: boolean): Promise<string> {
    return this.#resolveReal(this.lexicalReal(virtualPath), followLast, 0);
  }

  /**
   * `resolve(virtualPath, true)` plus what the last step learned: the entry's stat, undefined when nothing is
   * there. It looks at the last component with `lstat` after resolving its folder, instead of trying `realpath`
   * on the whole path first: a name about to be created (every upload) costs two lookups instead of three plus
   * the caller's `stat`, and an existing file the same two, the stat included.
   */
  async resolveEntry(virtualPath: string): Promise<{ real: string; stat: FsStat | undefined }> {
    let path = this.lexicalReal(virtualPath);
    for (let hops = 0; ; hops++) {
      if (!this.isInside(path)) throw new PermissionDeniedError('Path leaves the home directory');
      if (path === this.realHome) return { real: path, stat: await this.#statOrMissing(path, true) };
      const realParent = await this.#resolveReal(posix.dirname(path), true, hops);
      const candidate = posix.join(realParent, posix.basename(path));
      const stat = await this.#statOrMissing(candidate, false);
      if (stat?.kind !== 'symlink') return { real: candidate, stat };
      if (hops >= MAX_SYMLINK_HOPS) throw new InvalidPathError('Too many levels of symbolic links');
      path = await this.#linkTarget(realParent, candidate);
    }
  }

  async #statOrMissing(path: string, follow: boolean): Promise<FsStat | undefined> {
    try {
      return follow ? await this.#fs.stat(path) : await this.#fs.lstat(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Where the symlink `candidate` (in the real folder `realParent`) points, read as its backend reads it. */
  async #linkTarget(realParent: string, candidate: string): Promise<string> {
    const text = await this.#fs.readlink(candidate);
    // A composed view (virtual folders) reads link text inside the link's own folder, as its kernel would.
    return this.#fs.linkTarget ? this.#fs.linkTarget(candidate, text) : posix.resolve(realParent, text);
  }

  async #resolveReal(path: string, followLast: boolean, hops: number): Promise<string> {
    if (!this.isInside(path)) throw new PermissionDeniedError('Path leaves the home directory');
    if (path === this.realHome) return path;
    const parent = posix.dirname(path);
    const name = posix.basename(path);
    if (!followLast) return posix.join(await this.#resolveReal(parent, true, hops), name);
    try {
      const real = await this.#fs.realpath(path);
      if (!this.isInside(real)) throw new PermissionDeniedError('Path leaves the home directory');
      return real;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    // Missing (or a dangling symlink, or a missing ancestor): resolve the parent, then look at the name.
    const realParent = await this.#resolveReal(parent, true, hops);
    const candidate = posix.join(realParent, name);
    const kind = (await this.#statOrMissing(candidate, false))?.kind;
    if (kind !== 'symlink') return candidate;
    if (hops >= MAX_SYMLINK_HOPS) throw new InvalidPathError('Too many levels of symbolic links');
    return this.#resolveReal(await this.#linkTarget(realParent, candidate), true, hops + 1);
  }
}
