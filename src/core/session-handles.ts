// A file session's open handles: the per-session limit, the connection's and user's budgets, and the sets the
// session aborts on close.
import { FerryError, LimitError } from '../errors.js';
import type { SessionDirHandle } from './dir-handle.js';
import type { SessionFileHandle } from './file-handle.js';
import type { SessionResources } from './types.js';

export const DEFAULT_MAX_OPEN_HANDLES = 256;

export class SessionHandles {
  readonly files = new Set<SessionFileHandle>();
  readonly dirs = new Set<SessionDirHandle>();
  /** Opens between the limit check and the handle existing; counted so concurrent opens cannot overshoot. */
  #pending = 0;
  readonly #max: number;
  readonly #budget: SessionResources['handles'];
  readonly #closed: () => boolean;

  constructor(max: number, budget: SessionResources['handles'], closed: () => boolean) {
    this.#max = max;
    this.#budget = budget;
    this.#closed = closed;
  }

  /** Reserves a handle slot for the duration of `open`; a session closed meanwhile gets nothing. */
  async withSlot<T extends { abort?(): Promise<void>; close(): Promise<void> }>(
    open: () => Promise<T>,
  ): Promise<T> {
    if (this.files.size + this.dirs.size + this.#pending >= this.#max) {
      throw new LimitError(`Too many open handles (limit ${this.#max})`);
    }
    // The connection's and user's handle budgets (budgets.ts); given back when the handle is released.
    this.#budget?.take(1);
    this.#pending++;
    let handle: T;
    try {
      handle = await open();
    } catch (err) {
      this.#budget?.give(1);
      throw err;
    } finally {
      this.#pending--;
    }
    if (this.#closed()) {
      await (handle.abort ? handle.abort() : handle.close());
      throw new FerryError('ERR_IO', 'File session is closed');
    }
    return handle;
  }

  releaseFile(handle: SessionFileHandle): void {
    if (this.files.delete(handle)) this.#budget?.give(1);
  }

  releaseDir(handle: SessionDirHandle): void {
    if (this.dirs.delete(handle)) this.#budget?.give(1);
  }

  /** Aborts every open file (partials are kept for resume) and closes every directory listing. */
  async closeAll(): Promise<void> {
    const files = [...this.files];
    const dirs = [...this.dirs];
    await Promise.all([...files.map((f) => f.abort()), ...dirs.map((d) => d.close())]);
    this.files.clear();
    this.dirs.clear();
  }
}
