// An append-only file rotated by size (FILE → FILE.1 → … → FILE.N), shared safely by several processes.
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';

export interface RotatingFileOptions {
  /** Size at which the file is rotated; 0 never rotates. */
  readonly maxBytes: number;
  /** Rotated files kept (FILE.1 is the newest). */
  readonly keep?: number;
  /** Told once when writing or rotating fails; the writer carries on (a log must never stop the server). */
  readonly onError?: (err: Error) => void;
}

/** How often a writer checks whether another process rotated the file, so it follows to the new one. */
const FOLLOW_CHECK_MS = 1000;
/** A rotation lock older than this was left by a process that died while rotating. */
const STALE_LOCK_MS = 10_000;

/**
 * Writes whole lines with O_APPEND (so processes never interleave inside a line). Rotation happens under a lock
 * directory (`FILE.rotating`, created atomically), and only when the file at FILE is still over the limit, so
 * two processes reaching the limit together rotate once; the others reopen FILE when its inode changes.
 */
export class RotatingFile {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #onError: (err: Error) => void;
  #fd: number;
  #ino: number;
  #size: number;
  #lastCheck = Date.now();
  #failed = false;

  constructor(path: string, options: RotatingFileOptions) {
    this.path = path;
    this.#maxBytes = options.maxBytes;
    this.#keep = Math.max(1, options.keep ?? 5);
    this.#onError = options.onError ?? (() => {});
    this.#fd = openSync(path, 'a', 0o640);
    const st = fstatSync(this.#fd);
    this.#ino = st.ino;
    this.#size = st.size;
  }

  write(text: string): void {
    const data = Buffer.from(text);
    try {
      if (this.#maxBytes > 0 && this.#size + data.length > this.#maxBytes) this.#rotate();
      else if (Date.now() - this.#lastCheck > FOLLOW_CHECK_MS) this.#follow();
      writeSync(this.#fd, data);
      this.#size += data.length;
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  close(): void {
    closeSync(this.#fd);
  }

  #fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#onError(err);
  }

  #reopen(): void {
    const fd = openSync(this.path, 'a', 0o640);
    closeSync(this.#fd);
    this.#fd = fd;
    const st = fstatSync(fd);
    this.#ino = st.ino;
    this.#size = st.size;
  }

  /** Reopens FILE when another process rotated it away from under this one. */
  #follow(): void {
    this.#lastCheck = Date.now();
    const st = statSync(this.path, { throwIfNoEntry: false });
    if (!st || st.ino !== this.#ino) this.#reopen();
  }

  #rotate(): void {
    const lock = `${this.path}.rotating`;
    if (!this.#lock(lock)) {
      // Another process is rotating: keep appending to the current file and follow it at the next check.
      this.#size = 0;
      return;
    }
    try {
      const st = statSync(this.path, { throwIfNoEntry: false });
      // FILE is still the one this process filled: rotate it. Otherwise another process just did; follow it.
      if (st && st.ino === this.#ino) {
        rmSync(`${this.path}.${this.#keep}`, { force: true });
        for (let i = this.#keep - 1; i >= 1; i--) {
          try {
            renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }
        renameSync(this.path, `${this.path}.1`);
      }
      this.#reopen();
      this.#lastCheck = Date.now();
    } finally {
      rmdirSync(lock);
    }
  }

  #lock(lock: string): boolean {
    try {
      mkdirSync(lock);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const st = statSync(lock, { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) {
      rmdirSync(lock);
      return this.#lock(lock);
    }
    return false;
  }
}
