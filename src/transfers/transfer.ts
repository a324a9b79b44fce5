// Moves one file over SFTP with pipelined requests, resumes from the last byte both sides hold, then checks integrity.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { claimPartial, partialClaimKey } from '../core/upload-lock.js';
import { partialPathFor } from '../core/virtual-path.js';
import { FerryError, InvalidArgumentError } from '../errors.js';
import { fromRunningHash, type UploadSha256, uploadSha256 } from '../util/upload-sha256.js';
import { canDo, type Fs, type FsFile, type FsStat } from '../vfs/types.js';
import { OPEN, type SftpClient } from './sftp-client.js';
import {
  hashChunks,
  hashLocalPrefix,
  IntegrityError,
  pipelinedRead,
  pipelinedWrite,
  type Verification,
  verify,
} from './transfer-io.js';

export {
  DEFAULT_DEPTH,
  IntegrityError,
  pipelinedRead,
  TransferAbortedError,
  type Verification,
} from './transfer-io.js';

/** Whether a transfer hashes its file: asked for, or needed to verify it (see TransferOptions.digest). */
function hashes(sftp: SftpClient, options: TransferOptions): boolean {
  return options.digest !== false || sftp.canCheckFile || options.readBack === true;
}

/** Bytes of a download's replies gathered into one local write. */
const WRITE_GATHER_BYTES = 1024 * 1024;

export interface TransferResult {
  /** Size of the complete file. */
  readonly bytes: number;
  /** Bytes that crossed the network this time (bytes - resumedFrom). */
  readonly transferred: number;
  readonly resumedFrom: number;
  /** Hex SHA-256 of the complete file as this side holds it; undefined when `digest: false` left it unhashed. */
  readonly sha256: string | undefined;
  readonly verified: Verification;
  readonly durationMs: number;
}

export interface TransferOptions {
  /** Continue a partial file left by an interrupted transfer (default true). */
  readonly resume?: boolean;
  /** Write to a temporary name and rename on completion (default true). */
  readonly useTempName?: boolean;
  /** Without check-file, read the file back from the server to compare SHA-256. */
  readonly readBack?: boolean;
  /** Copy modification time and permissions to the target (`get -p`/`put -p`). */
  readonly preserve?: boolean;
  /**
   * Hash the file even when nothing checks the hash (default true: a job records it). false (the shell, which shows
   * none) hashes it only for a server that can check-file, or for readBack: a gibibyte's SHA-256 is ~0.6 s of CPU.
   */
  readonly digest?: boolean;
  readonly depth?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * A file on this side: a path inside an Fs (a job's local directory, or the whole disk for the shell), so
 * every local read and write is confined to that Fs's root and goes through the storage interface.
 */
export interface LocalFile {
  readonly fs: Fs;
  /** Absolute path inside the Fs. */
  readonly path: string;
  /**
   * The host directory the Fs is rooted at: a download's partial is then claimed under the same key as a
   * session's upload of that name (core/upload-lock.ts), so the two never write one partial at once.
   */
  readonly root?: string;
}

/**
 * The temporary name a file is written under until complete. Locally ('local') it is the core's partial,
 * `.ferry-part.NAME`, which listings hide and uploads resume. On a partner ('posix') it is `.NAME.ferry-part`:
 * a Ferry partner reserves `.ferry-part.` names for its own partials and would refuse to create one.
 */
export function partName(path: string, side: 'posix' | 'local' = 'local'): string {
  if (side === 'local') return partialPathFor(path);
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.ferry-part`);
}

async function tryStat(fs: Fs, path: string): Promise<FsStat | undefined> {
  try {
    return await fs.stat(path);
  } catch (err) {
    if (err instanceof FerryError && err.code === 'ERR_NOT_FOUND') return undefined;
    throw err;
  }
}

/**
 * Downloads `remotePath` into `local`, through its Fs: into the core's partial (`.ferry-part.NAME`, claimed
 * like a session's upload) continued when one is there, renamed into place once verified.
 */
export async function download(
  sftp: SftpClient,
  remotePath: string,
  local: LocalFile,
  options: TransferOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  const { fs, path: localPath } = local;
  const temp = options.useTempName === false ? localPath : partName(localPath);
  const releaseClaim =
    temp !== localPath && local.root !== undefined
      ? claimPartial(partialClaimKey(local.root, temp), localPath)
      : undefined;
  let handle: Buffer;
  try {
    handle = await sftp.open(remotePath, OPEN.READ);
  } catch (err) {
    releaseClaim?.();
    throw err;
  }
  let closed = false;
  let fd: FsFile | undefined;
  let hash: UploadSha256 | undefined;
  try {
    const attrs = await sftp.fstat(handle);
    const remoteSize = attrs.size ?? 0;
    let start = 0;
    if (options.resume !== false) {
      const partial = await tryStat(fs, temp);
      if (partial?.kind === 'file' && partial.size <= remoteSize) start = partial.size;
    }
    fd = await fs.open(temp, { read: true, write: true, create: true, truncate: start === 0 }, 0o600);
    // Hashed on a thread of its own past the first megabyte: on this thread it was an eighth of a download's CPU.
    hash = hashes(sftp, options) ? uploadSha256() : undefined;
    const fileHash = hash;
    if (start > 0 && fileHash) await hashLocalPrefix(fd, start, fileHash);
    let position = start;
    // Replies are written a mebibyte at a time (one writev of their slices): a write per 255 KiB reply was a
    // thread-pool dispatch each, and a dispatch costs a cross-thread wake-up.
    let gathered: Buffer[] = [];
    let gatheredBytes = 0;
    const file = fd;
    const writeGathered = async (): Promise<void> => {
      if (gatheredBytes === 0) return;
      const data = gathered;
      const at = position - gatheredBytes;
      gathered = [];
      gatheredBytes = 0;
      await file.write(at, data);
      // Written (a backend that keeps bytes longer copied them) and hashed before it was gathered: the replies'
      // buffers take the next ones.
      sftp.releaseReadData(data);
    };
    const end = await pipelinedRead(
      sftp,
      handle,
      start,
      remoteSize,
      async (data, length) => {
        if (fileHash) await hashChunks(fileHash, data);
        for (const chunk of data) gathered.push(chunk);
        gatheredBytes += length;
        position += length;
        if (gatheredBytes >= WRITE_GATHER_BYTES) await writeGathered();
        options.onProgress?.(position, Math.max(remoteSize, position));
      },
      options,
    ).catch(async (err: unknown) => {
      // What arrived before the failure stays in the partial, for the resume to continue after it.
      await writeGathered().catch(() => undefined);
      throw err;
    });
    await writeGathered();
    await fd.sync();
    await fd.close();
    fd = undefined;
    const finalSize = (await sftp.fstat(handle)).size ?? end;
    await sftp.close(handle);
    closed = true;
    if (finalSize !== end) {
      throw new IntegrityError(`${remotePath}: ${end} bytes received, the server reports ${finalSize}`);
    }
    const sha256 = await hash?.digest();
    let verified: Verification = 'size';
    try {
      if (sha256 !== undefined) verified = await verify(sftp, remotePath, sha256, options);
    } catch (err) {
      // A partial with wrong content must not be resumed: start over next time.
      if (err instanceof IntegrityError) await fs.unlink(temp).catch(() => undefined);
      throw err;
    }
    if (options.preserve) {
      if (attrs.permissions !== undefined && canDo(fs, 'modes')) {
        await fs.chmod(temp, attrs.permissions & 0o7777);
      }
      if (attrs.mtime !== undefined) await fs.utimes(temp, attrs.atime ?? attrs.mtime, attrs.mtime);
    }
    if (temp !== localPath) await fs.rename(temp, localPath);
    return {
      bytes: end,
      transferred: end - start,
      resumedFrom: start,
      sha256,
      verified,
      durationMs: performance.now() - started,
    };
  } finally {
    hash?.release();
    await fd?.close().catch(() => undefined);
    releaseClaim?.();
    if (!closed) await sftp.close(handle).catch(() => undefined);
  }
}

export interface UploadOptions extends TransferOptions {
  /** The remote name to write while incomplete (default `.NAME.ferry-part`; the target itself without temp names). */
  readonly remoteTemp?: string;
}

/**
 * Opens a remote partial to continue it. Where the server can hash it (check-file-handle), the prefix must be
 * this file's, else undefined (start over). Servers that cannot hash an incomplete file are trusted on size,
 * as OpenSSH's reput does; the check after the transfer still catches a wrong prefix.
 */
async function resumeHandle(
  sftp: SftpClient,
  temp: string,
  start: number,
  localPrefix: string,
): Promise<Buffer | undefined> {
  if (!sftp.canCheckFile) return sftp.open(temp, OPEN.WRITE);
  const handle = await sftp.open(temp, OPEN.READ | OPEN.WRITE).catch(() => undefined);
  if (!handle) return sftp.open(temp, OPEN.WRITE);
  const remote = await sftp.sha256Handle(handle, 0, start).catch(() => localPrefix);
  if (remote === localPrefix) return handle;
  await sftp.close(handle);
  return undefined;
}

/** Uploads `local` (read through its Fs) to `remotePath`, continuing the remote temporary file when one is there. */
export async function upload(
  sftp: SftpClient,
  localFile: LocalFile,
  remotePath: string,
  options: UploadOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  const temp =
    options.useTempName === false ? remotePath : (options.remoteTemp ?? partName(remotePath, 'posix'));
  const fd = await localFile.fs.open(localFile.path, { read: true, write: false });
  let fileHash: UploadSha256 | undefined;
  try {
    const local = await fd.stat();
    if (local.kind !== 'file') throw new InvalidArgumentError(`${localFile.path}: not a regular file`);
    const size = local.size;
    let start = 0;
    if (options.resume !== false) {
      const remote = await sftp.tryStat(temp);
      if (remote?.size !== undefined && remote.size <= size) start = remote.size;
    }
    let handle: Buffer | undefined;
    if (start > 0) {
      const prefix = createHash('sha256');
      await hashLocalPrefix(fd, start, prefix);
      handle = await resumeHandle(sftp, temp, start, prefix.copy().digest('hex'));
      if (!handle) start = 0;
      else if (hashes(sftp, options)) fileHash = fromRunningHash(prefix);
    }
    handle ??= await sftp.open(temp, OPEN.WRITE | OPEN.CREAT | OPEN.TRUNC);
    // A new file is hashed on a thread of its own past its first megabyte (a resumed one goes on with its prefix's).
    if (start === 0 && hashes(sftp, options)) fileHash = uploadSha256();
    let done = start;
    try {
      await pipelinedWrite(sftp, handle, fd, start, size, fileHash, {
        depth: options.depth,
        signal: options.signal,
        onData: (n) => {
          done += n;
          options.onProgress?.(done, size);
        },
      });
      await sftp.fsync(handle).catch(() => undefined);
    } finally {
      await sftp.close(handle);
    }
    const sha256 = await fileHash?.digest();
    const remoteSize = (await sftp.stat(temp)).size;
    if (remoteSize !== size) {
      throw new IntegrityError(`${remotePath}: ${size} bytes sent, the server reports ${remoteSize}`);
    }
    let verified: Verification = 'size';
    try {
      if (sha256 !== undefined) verified = await verify(sftp, temp, sha256, options);
    } catch (err) {
      if (err instanceof IntegrityError) await sftp.remove(temp).catch(() => undefined);
      throw err;
    }
    if (temp !== remotePath) await sftp.rename(temp, remotePath, true);
    if (options.preserve) {
      await sftp.setstat(remotePath, {
        permissions: local.mode & 0o7777,
        atime: Math.floor(local.atimeMs / 1000),
        mtime: Math.floor(local.mtimeMs / 1000),
      });
    }
    return {
      bytes: size,
      transferred: size - start,
      resumedFrom: start,
      sha256,
      verified,
      durationMs: performance.now() - started,
    };
  } finally {
    fileHash?.release();
    await fd.close();
  }
}
