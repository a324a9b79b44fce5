// A WRITE's data copied out of the packets it arrived in, into buffers reused across the session's WRITEs.

/*
 * Why: a pipelining client keeps up to the session's byte budget of WRITEs in the server (OpenSSH's sftp: 64 of
 * 32 KiB), and when the server is what limits the upload each waits there for the ones before it, ~50 ms at
 * 8 concurrent uploads on two cores. V8 runs a scavenge whenever young ArrayBuffers reach a fixed size, which at
 * upload rates is about as often, so the buffers those WRITEs were sliced from (ssh2's packets, node's socket
 * reads) survived two scavenges, were promoted, and could only be freed by a mark-compact; V8 then started one
 * for "external memory pressure" every ~0.5 s per worker (--trace-incremental-marking), and concurrent marking
 * and sweeping took ~15 % of the workers' CPU (perf, docs/PERFORMANCE.md stop 55). Copied here at once, the
 * packets die young; the copies are reused. The copy costs one memcpy per byte.
 *
 * Small WRITEs (a small file's whole data, a tail) are left as they are: their bytes are few, and a buffer
 * of their size class would start a new set (read-buffers.ts) at every file of a small-file upload.
 */
import type { ByteChunks } from '../util/byte-chunks.js';
import { ReadBufferPool } from './read-buffers.js';

/** WRITEs shorter than this keep the slices they arrived in. */
export const MIN_STAGED_WRITE = 16 * 1024;

export interface StagedWrite {
  /** The bytes to write: the copy, or the slices as they arrived. */
  readonly data: ByteChunks;
  /** The pooled buffer holding the copy, to give back once the write settled; undefined when not copied. */
  readonly buffer: Buffer | undefined;
}

/**
 * Pooled copies of WRITE data: as many kept as WRITEs of their size fit in `budgetBytes` (the session's byte
 * budget, which bounds the WRITEs accepted at once), dropped after a pause like READ buffers.
 */
export class WriteBufferPool {
  readonly #pool: ReadBufferPool;
  /**
   * Buffers lent to the copying framer (wire/copying-framer.ts), by their memory: a WRITE whose data lies in one
   * is staged as it is. Weakly held, so one whose packet was dropped (a refused WRITE) is collected.
   */
  readonly #lent = new WeakMap<ArrayBufferLike, Buffer>();

  constructor(budgetBytes: number) {
    this.#pool = new ReadBufferPool(0, budgetBytes);
  }

  /** A pooled buffer of at least `length` bytes (MIN_STAGED_WRITE or more) for a WRITE's data as it arrives. */
  lend(length: number): Buffer {
    const buffer = this.#pool.take(length);
    this.#lent.set(buffer.buffer, buffer);
    return buffer;
  }

  /** Copies `chunks` (`length` bytes in all) into a pooled buffer when they are worth it. */
  stage(chunks: readonly Buffer[], length: number): StagedWrite {
    const lent = chunks.length === 1 ? this.#lent.get(chunks[0]!.buffer) : undefined;
    if (lent !== undefined) {
      this.#lent.delete(lent.buffer);
      return { data: chunks, buffer: lent };
    }
    if (length < MIN_STAGED_WRITE) return { data: chunks, buffer: undefined };
    const buffer = this.#pool.take(length);
    let at = 0;
    for (const chunk of chunks) at += chunk.copy(buffer, at);
    return { data: buffer.subarray(0, length), buffer };
  }

  /** Only once the write has settled: FsFile.write lets the caller reuse its data then (vfs/types.ts). */
  give(buffer: Buffer | undefined): void {
    if (buffer) this.#pool.give(buffer);
  }

  clear(): void {
    this.#pool.clear();
  }
}
