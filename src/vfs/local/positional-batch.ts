// What LocalFile's write queue, read-queue.ts and LocalFs's inline calls share: a node:fs callback call as a promise,
// a call made on this thread that settles after a turn of the event loop, the size under which data goes that way
// too, and the run of queued positional requests that continue one another, which goes out as one pwritev or preadv.
import { toFerryError } from '../../errors.js';

/**
 * Reads and writes of at most this many bytes run on the calling thread when the root's metadata calls do
 * (LocalFsOptions.metadataCalls): a small file's data, one page-cache copy. Larger writes always use the pool;
 * larger reads take what the page cache holds there first (read-queue.ts, cached-reads.ts).
 */
export const INLINE_IO_BYTES = 16 * 1024;

/**
 * Settles `call` only after a turn of the event loop (setImmediate): an inline call is done before its promise
 * is awaited, and a caller looping over such calls would otherwise keep the loop in microtasks, starving every
 * other session's I/O and timers; a pool call's completion comes back through the loop anyway.
 */
export function afterTurn<T>(call: Promise<T>): Promise<T> {
  return call.finally(() => new Promise<void>((resolve) => setImmediate(resolve)));
}

/** The same call run on this thread (inline metadata calls, see LocalFsOptions.metadataCalls). */
export function now<T>(run: () => T): Promise<T> {
  try {
    return afterTurn(Promise.resolve(run()));
  } catch (err) {
    return afterTurn(Promise.reject(toFerryError(err)));
  }
}

/** Wraps a callback-style node:fs call on a descriptor (fs/promises has no API for raw descriptors). */
export function call<T>(
  run: (done: (err: NodeJS.ErrnoException | null, value?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    run((err, value) => (err ? reject(toFerryError(err)) : resolve(value as T)));
  });
}

/**
 * Most iovecs one pwritev or preadv takes (Linux IOV_MAX is 1024; an SFTP WRITE of 255 KiB is ~9 chunk slices)
 * and most bytes, so one call stays short. A single request with more still goes out (libuv splits it).
 */
const MAX_BATCH_IOVECS = 256;
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

export interface Positioned {
  readonly position: number;
  readonly length: number;
  /** The buffers it is made of: one for a read, a write's chunks. */
  readonly iovecs: number;
}

/**
 * Takes the head of `queue` and the requests right after it that start where the previous one ends, up to
 * `maxBytes` in all (the head always).
 */
export function takeContiguous<T extends Positioned>(queue: T[], maxBytes = MAX_BATCH_BYTES): T[] {
  const head = queue[0]!;
  let count = 1;
  let end = head.position + head.length;
  let bytes = head.length;
  let iovecs = head.iovecs;
  while (count < queue.length) {
    const next = queue[count]!;
    if (next.position !== end) break;
    if (bytes + next.length > maxBytes || iovecs + next.iovecs > MAX_BATCH_IOVECS) break;
    end += next.length;
    bytes += next.length;
    iovecs += next.iovecs;
    count++;
  }
  return queue.splice(0, count);
}
