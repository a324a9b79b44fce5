// The wire work of one transfer: pipelined SFTP reads and writes, and the integrity checks after it.
import { createHash } from 'node:crypto';
import { FerryError } from '../errors.js';
import { byteLength } from '../util/byte-chunks.js';
import type { FsFile } from '../vfs/types.js';
import { OPEN, type SftpClient } from './sftp-client.js';

/** Requests kept in flight; OpenSSH's sftp uses 64 too. */
export const DEFAULT_DEPTH = 64;
/**
 * READs are sent once this many slots are free, together (one channel write, see SftpRequestChannel): a READ per
 * reply was a socket write per 255 KiB, and the window stays 56-64 requests deep.
 */
const REFILL_BATCH = 8;
const LOCAL_HASH_CHUNK = 1024 * 1024;

/** How a transfer was checked: size only, the server's SHA-256 (SFTP check-file, FTP HASH), or reading it back. */
export type Verification = 'size' | 'check-file' | 'hash' | 'read-back';

export class IntegrityError extends FerryError {
  constructor(message: string) {
    super('ERR_IO', message);
  }
}

export class TransferAbortedError extends FerryError {
  constructor() {
    super('ERR_IO', 'transfer aborted');
  }
}

/**
 * A running SHA-256: node:crypto's Hash, or util/upload-sha256's threaded one, whose update returns a promise
 * when it must wait for room (the next update waits for it). It has taken the bytes once update (or its promise)
 * is done: an upload reads into the same buffer again.
 */
export interface RunningHash {
  update(data: Buffer): unknown;
}

async function feed(hash: RunningHash, data: Buffer): Promise<void> {
  const waiting = hash.update(data);
  if (waiting instanceof Promise) await waiting;
}

/** Feeds the first `length` bytes of a local file to `hash` (the prefix a resume continues from). */
export async function hashLocalPrefix(file: FsFile, length: number, hash: RunningHash): Promise<void> {
  let pos = 0;
  while (pos < length) {
    const data = await file.read(pos, Math.min(LOCAL_HASH_CHUNK, length - pos));
    if (data.length === 0) throw new IntegrityError('local file shrank while being hashed');
    await feed(hash, data);
    pos += data.length;
  }
}

/** Feeds every chunk of `data` to `hash`, in order. */
export async function hashChunks(hash: RunningHash, data: readonly Buffer[]): Promise<void> {
  for (const chunk of data) await feed(hash, chunk);
}

/**
 * Reads a remote handle from `start` to end of file with up to `depth` READs in flight, handing the data to
 * `sink` strictly in file order (so a partial file never has holes), as the slices it arrived in with their
 * total length. Returns the end offset.
 */
export async function pipelinedRead(
  sftp: SftpClient,
  handle: Buffer,
  start: number,
  knownSize: number,
  sink: (data: readonly Buffer[], length: number) => Promise<void> | void,
  options: { depth?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const depth = Math.max(1, options.depth ?? DEFAULT_DEPTH);
  const refillAt = depth - Math.min(REFILL_BATCH, depth);
  const chunk = sftp.readChunk;
  interface Slot {
    offset: number;
    length: number;
    data: Promise<readonly Buffer[] | null>;
  }
  const queue: Slot[] = [];
  const request = (offset: number, length: number): Slot => {
    const data = sftp.readChunks(handle, offset, length);
    // Consumed in order below; this only keeps a failure of a later slot from being reported as unhandled.
    data.catch(() => undefined);
    return { offset, length, data };
  };
  let next = start;
  let position = start;
  try {
    for (;;) {
      if (options.signal?.aborted) throw new TransferAbortedError();
      // Past the size seen at open, one probe at a time finds the end (or that the file grew).
      if (queue.length <= refillAt) {
        while (queue.length < depth && (next < knownSize || queue.length === 0)) {
          queue.push(request(next, chunk));
          next += chunk;
        }
      }
      const slot = queue.shift()!;
      const data = await slot.data;
      if (data === null) break;
      const length = byteLength(data);
      if (length === 0 || length > slot.length)
        throw new FerryError('ERR_PROTOCOL', `bad READ reply of ${length} bytes`);
      await sink(data, length);
      position += length;
      // A short read (server limit, or the end moved) must be completed before any later slot is used.
      if (length < slot.length) queue.unshift(request(slot.offset + length, slot.length - length));
    }
  } finally {
    await Promise.allSettled(queue.map((s) => s.data));
  }
  return position;
}

/** Writes `length` bytes of a local file from `start` to a remote handle with up to `depth` WRITEs in flight. */
export async function pipelinedWrite(
  sftp: SftpClient,
  handle: Buffer,
  file: FsFile,
  start: number,
  length: number,
  hash: RunningHash | undefined,
  options: { depth?: number; signal?: AbortSignal; onData?: (n: number) => void },
): Promise<void> {
  const depth = Math.max(1, options.depth ?? DEFAULT_DEPTH);
  const chunk = sftp.writeChunk;
  // Each chunk is read behind the room its WRITE header takes, and sent from that buffer as it is.
  const headroom = sftp.writeHeaderBytes(handle);
  const inflight: Promise<void>[] = [];
  // A WRITE's buffer is free again once its reply is in (the server had all of it, so the SSH layer has sent
  // every byte): reused, a gibibyte's upload allocates `depth` buffers, not 4 000 of 255 KiB each, whose
  // external memory set off a young-generation GC every ~25 MiB.
  const free: Buffer[] = [];
  let failure: unknown;
  let position = start;
  while (position < length && failure === undefined) {
    if (options.signal?.aborted) throw new TransferAbortedError();
    if (inflight.length >= depth) await inflight.shift();
    if (sftp.congested) await sftp.drained();
    const buffer = free.pop() ?? Buffer.allocUnsafe(headroom + chunk);
    const frame = await file.read(position, Math.min(chunk, length - position), headroom, buffer);
    const data = frame.subarray(headroom);
    if (data.length === 0) throw new IntegrityError('local file shrank during upload');
    if (hash) await feed(hash, data);
    const at = position;
    position += data.length;
    inflight.push(
      sftp.writeFrame(handle, at, frame).then(
        () => {
          free.push(buffer);
          options.onData?.(data.length);
        },
        (err: unknown) => {
          failure ??= err;
        },
      ),
    );
  }
  await Promise.all(inflight);
  if (failure !== undefined) throw failure;
}

/** SHA-256 of a remote file by reading it (read-back verification). */
async function remoteSha256ByReading(sftp: SftpClient, path: string, depth?: number): Promise<string> {
  const handle = await sftp.open(path, OPEN.READ);
  try {
    const size = (await sftp.fstat(handle)).size ?? 0;
    const hash = createHash('sha256');
    await pipelinedRead(
      sftp,
      handle,
      0,
      size,
      (data) => {
        for (const chunk of data) hash.update(chunk);
        sftp.releaseReadData(data);
      },
      { depth },
    );
    return hash.digest('hex');
  } finally {
    await sftp.close(handle);
  }
}

export async function verify(
  sftp: SftpClient,
  remotePath: string,
  localSha256: string,
  options: { readonly readBack?: boolean; readonly depth?: number },
): Promise<Verification> {
  if (sftp.canCheckFile) {
    const remote = await sftp.sha256(remotePath);
    if (remote !== localSha256)
      throw new IntegrityError(`SHA-256 differs: local ${localSha256}, ${remotePath} ${remote}`);
    return 'check-file';
  }
  if (options.readBack) {
    const remote = await remoteSha256ByReading(sftp, remotePath, options.depth);
    if (remote !== localSha256)
      throw new IntegrityError(`SHA-256 differs after read-back: local ${localSha256}, remote ${remote}`);
    return 'read-back';
  }
  return 'size';
}
