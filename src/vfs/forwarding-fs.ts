// The base of every Fs decorator: each call goes to the inner backend unless a subclass overrides it.
import { posix } from 'node:path';
import type { Fs, FsCapabilities, FsDir, FsFile, FsOpenFlags, FsStat, FsStatfs } from './types.js';

/**
 * Decorators (the audit gate, the PGP layer later, test backends) override the few calls they change and
 * inherit the rest, so a method added to Fs is forwarded in one place instead of in every decorator.
 */
export class ForwardingFs implements Fs {
  protected readonly inner: Fs;

  constructor(inner: Fs) {
    this.inner = inner;
  }

  get capabilities(): FsCapabilities | undefined {
    return this.inner.capabilities;
  }
  stat(path: string): Promise<FsStat> {
    return this.inner.stat(path);
  }
  lstat(path: string): Promise<FsStat> {
    return this.inner.lstat(path);
  }
  realpath(path: string): Promise<string> {
    return this.inner.realpath(path);
  }
  open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    return this.inner.open(path, flags, mode);
  }
  opendir(path: string): Promise<FsDir> {
    return this.inner.opendir(path);
  }
  mkdir(path: string, options?: { mode?: number; recursive?: boolean }): Promise<void> {
    return this.inner.mkdir(path, options);
  }
  rmdir(path: string): Promise<void> {
    return this.inner.rmdir(path);
  }
  unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }
  rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    return this.inner.rename(from, to, options);
  }
  movesByCopy(from: string, to: string): boolean {
    return this.inner.movesByCopy?.(from, to) ?? false;
  }
  link(existingPath: string, newPath: string): Promise<void> {
    return this.inner.link(existingPath, newPath);
  }
  symlink(target: string, path: string): Promise<void> {
    return this.inner.symlink(target, path);
  }
  readlink(path: string): Promise<string> {
    return this.inner.readlink(path);
  }
  linkTarget(linkPath: string, text: string): string {
    return this.inner.linkTarget?.(linkPath, text) ?? posix.resolve(posix.dirname(linkPath), text);
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.inner.chmod(path, mode);
  }
  utimes(path: string, atime: number, mtime: number, options?: { followSymlinks?: boolean }): Promise<void> {
    return this.inner.utimes(path, atime, mtime, options);
  }
  statfs(path: string): Promise<FsStatfs> {
    return this.inner.statfs(path);
  }
  async dispose(): Promise<void> {
    await this.inner.dispose?.();
  }
}
