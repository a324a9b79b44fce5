// check-file (hash of a range of an open file, whole or in blocks), bounded so a request cannot buy hours of CPU.
import { createHash } from 'node:crypto';
import { BudgetExceededError, InvalidArgumentError } from '../errors.js';
import { hashRange, type RangeReader, type RangeSource } from './digest.js';
import type { HandleHost, OpenedFile } from './handle-host.js';
import type { ChecksumRequest } from './types.js';

/**
 * Bytes one check-file request may hash, and the largest out-of-order upload hashed on close: 64 GiB is about
 * a minute of one core (SHA-256 ~1.7 GB/s, MD5 ~0.75 GB/s here), so a sparse file cannot buy hours of CPU.
 */
export const DEFAULT_MAX_HASH_BYTES = 64 * 1024 * 1024 * 1024;

/**
 * The digests a check-file request asks for, read through `read` from a file of `size` bytes. `progress`
 * tells, even when it fails, how large the range was and how much was hashed (for the audit record).
 */
export async function checkFileDigests(
  read: RangeReader,
  size: number,
  request: ChecksumRequest,
  maxHashBytes: number,
  checkAborted: () => void,
  progress: { hashed: number; range: number },
): Promise<Buffer[]> {
  const { algorithm, offset, length, blockSize } = request;
  const start = Math.min(offset, size);
  const end = length === 0 ? size : Math.min(size, offset + length);
  progress.range = end - start;
  const range = progress.range;
  // The cost is known before any byte is read: refuse instead of hashing a huge sparse file for minutes.
  if (range > maxHashBytes) {
    throw new BudgetExceededError(
      `check-file range of ${range} bytes exceeds the limit of ${maxHashBytes} bytes per request`,
    );
  }
  const digests: Buffer[] = [];
  if (blockSize === 0) {
    // Not hashRange(…, 0): its length 0 means "to end of file", which a growing file would stretch.
    digests.push(
      range === 0
        ? createHash(algorithm).digest()
        : await hashRange(read, algorithm, start, range, checkAborted),
    );
    progress.hashed = range;
  } else {
    for (let at = start; at < end; at += blockSize) {
      const n = Math.min(blockSize, end - at);
      digests.push(await hashRange(read, algorithm, at, n, checkAborted));
      progress.hashed += n;
    }
  }
  return digests;
}

/** An open handle as a check-file request sees it (file-handle.ts). */
export interface ChecksumTarget {
  readonly host: HandleHost;
  readonly opened: OpenedFile;
  readonly path: string;
  /** Reads through the handle's own descriptor (always readable), never a reopen by name. */
  readonly byDescriptor: RangeSource;
  readonly assertOpen: () => void;
}

/**
 * A check-file request on an open handle: the download permission of the file's folders, the digests read
 * through the handle's own descriptor, stopped by the request's `signal` or the connection going away, and a
 * checksum event whether it succeeds or not.
 */
export async function checksumOfHandle(
  on: ChecksumTarget,
  request: ChecksumRequest,
  signal: AbortSignal | undefined,
): Promise<Buffer[]> {
  const { algorithm, offset, length, blockSize } = request;
  const checkAborted = (): void => {
    signal?.throwIfAborted();
    on.host.signal?.throwIfAborted();
  };
  const progress = { hashed: 0, range: 0 };
  try {
    on.assertOpen();
    on.host.require('download', on.opened.permissionDirs);
    checkRange(offset, length);
    checkRange(blockSize, 0);
    const digests = await on.byDescriptor(async (read) =>
      checkFileDigests(
        read,
        (await on.opened.file.stat()).size,
        request,
        on.host.maxHashBytes,
        checkAborted,
        progress,
      ),
    );
    on.host.emitChecksum(on.path, { algorithm, offset, length, blockSize, bytes: progress.hashed });
    return digests;
  } catch (err) {
    on.host.emitChecksum(
      on.path,
      { algorithm, offset, length, blockSize, range: progress.range, bytes: progress.hashed },
      err,
    );
    throw err;
  }
}

export function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new InvalidArgumentError('Offset and length must be non-negative integers');
  }
}
