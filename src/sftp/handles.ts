// Per-session table of open handles: 4-byte opaque ids on the wire, core FileHandle/DirHandle behind them.
import type { DirEntry, DirHandle, FileHandle } from '../core/types.js';

export interface FileEntry {
  readonly kind: 'file';
  readonly id: number;
  readonly file: FileHandle;
}

export interface DirEntryHandle {
  readonly kind: 'dir';
  readonly id: number;
  readonly dir: DirHandle;
  /** Entries read from core but not yet sent (a core batch can be larger than one NAME reply). */
  pending: DirEntry[];
  exhausted: boolean;
}

export type HandleEntry = FileEntry | DirEntryHandle;

/** Wire handles are exactly 4 bytes; anything else can never name an open handle. */
export const HANDLE_LENGTH = 4;

export class HandleTable {
  readonly #entries = new Map<number, HandleEntry>();
  #nextId = 1;
  /** Opens in progress count against the limit so concurrent OPENs cannot overshoot it. */
  #reserved = 0;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Claims a slot before an open starts; false when the limit is reached. */
  reserve(): boolean {
    if (this.#entries.size + this.#reserved >= this.#limit) return false;
    this.#reserved++;
    return true;
  }

  release(): void {
    this.#reserved--;
  }

  addFile(file: FileHandle): FileEntry {
    const entry: FileEntry = { kind: 'file', id: this.#allocateId(), file };
    this.#entries.set(entry.id, entry);
    return entry;
  }

  addDir(dir: DirHandle): DirEntryHandle {
    const entry: DirEntryHandle = { kind: 'dir', id: this.#allocateId(), dir, pending: [], exhausted: false };
    this.#entries.set(entry.id, entry);
    return entry;
  }

  get(id: number): HandleEntry | undefined {
    return this.#entries.get(id);
  }

  delete(id: number): void {
    this.#entries.delete(id);
  }

  /** Ids wrap at 2^32 and skip ones still open, so a stale handle never aliases a new one in practice. */
  #allocateId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
      if (!this.#entries.has(id)) return id;
    }
  }
}

export function encodeHandleId(id: number): Buffer {
  const handle = Buffer.allocUnsafe(HANDLE_LENGTH);
  handle.writeUInt32BE(id, 0);
  return handle;
}

/** The id a wire handle names, or 0 (never allocated) when it cannot be one of ours. */
export function decodeHandleId(handle: Buffer): number {
  return handle.length === HANDLE_LENGTH ? handle.readUInt32BE(0) : 0;
}
