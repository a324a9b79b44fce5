// Moves one file over FTPS: downloads resume with REST, uploads with APPE on the remote temporary name, then the
// size and (where the server offers HASH, or on request by reading back) the SHA-256 are compared.
import { createHash, type Hash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { claimPartial, partialClaimKey } from '../core/upload-lock.js';
import { InvalidArgumentError } from '../errors.js';
import type { FsFile } from '../vfs/types.js';
import { type FtpsConnection, remoteSha256 } from './ftps-connection.js';
import { type LocalFile, partName, type TransferOptions, type TransferResult } from './transfer.js';
import { hashLocalPrefix, IntegrityError, TransferAbortedError, type Verification } from './transfer-io.js';

/** Bytes per local read or write: large enough that the Fs calls cost little next to TLS. */
const CHUNK = 256 * 1024;

async function trySize(conn: FtpsConnection, path: string): Promise<number | undefined> {
  try {
    return await conn.client.size(path);
  } catch (err) {
    // 550: no such file. Anything else (a broken connection) is a real failure.
    if ((err as { code?: number }).code === 550) return undefined;
    throw err;
  }
}

/** Closes the control connection when the run is aborted, which ends the transfer in progress with an error. */
async function abortable<T>(conn: FtpsConnection, signal: AbortSignal | undefined, work: () => Promise<T>) {
  if (signal?.aborted) throw new TransferAbortedError();
  const onAbort = () => conn.client.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await work();
  } catch (err) {
    if (signal?.aborted) throw new TransferAbortedError();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function sha256ByReading(conn: FtpsConnection, path: string): Promise<string> {
  const hash = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done();
    },
  });
  await conn.client.downloadTo(sink, path);
  return hash.digest('hex');
}

async function verify(
  conn: FtpsConnection,
  path: string,
  localSha256: string,
  readBack: boolean | undefined,
): Promise<Verification> {
  if (conn.canHash) {
    const remote = await remoteSha256(conn, path);
    if (remote !== localSha256)
      throw new IntegrityError(`SHA-256 differs: local ${localSha256}, ${path} ${remote}`);
    return 'hash';
  }
  if (readBack) {
    const remote = await sha256ByReading(conn, path);
    if (remote !== localSha256)
      throw new IntegrityError(`SHA-256 differs after read-back: local ${localSha256}, remote ${remote}`);
    return 'read-back';
  }
  return 'size';
}

/** Downloads into the core's partial (`.ferry-part.NAME`), continued with REST when one is there. */
export async function ftpsDownload(
  conn: FtpsConnection,
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
  let fd: FsFile | undefined;
  try {
    const remoteSize = await conn.client.size(remotePath);
    let start = 0;
    if (options.resume !== false) {
      const partial = await fs.stat(temp).catch(() => undefined);
      if (partial?.kind === 'file' && partial.size <= remoteSize) start = partial.size;
    }
    fd = await fs.open(temp, { read: true, write: true, create: true, truncate: start === 0 }, 0o600);
    const hash = createHash('sha256');
    if (start > 0) await hashLocalPrefix(fd, start, hash);
    let position = start;
    const file = fd;
    // Written in arrival order at the next offset: a partial never has holes, so its size is where to resume.
    const sink = new Writable({
      highWaterMark: 4 * CHUNK,
      write(chunk: Buffer, _enc, done) {
        // More than SIZE announced: a file still growing, or a server that would fill the disk. Fetched next run.
        if (position + chunk.length > remoteSize) {
          done(
            new IntegrityError(
              `${remotePath}: the server sends more than the ${remoteSize} bytes SIZE reported`,
            ),
          );
          return;
        }
        file.write(position, chunk).then(() => {
          hash.update(chunk);
          position += chunk.length;
          options.onProgress?.(position, Math.max(remoteSize, position));
          done();
        }, done);
      },
    });
    await abortable(conn, options.signal, async () => {
      await conn.client.downloadTo(sink, remotePath, start);
      await finished(sink);
    });
    await fd.sync();
    await fd.close();
    fd = undefined;
    const finalSize = await conn.client.size(remotePath);
    if (finalSize !== position)
      throw new IntegrityError(`${remotePath}: ${position} bytes received, the server reports ${finalSize}`);
    const sha256 = hash.digest('hex');
    let verified: Verification;
    try {
      verified = await verify(conn, remotePath, sha256, options.readBack);
    } catch (err) {
      // A partial with wrong content must not be resumed: start over next time.
      if (err instanceof IntegrityError) await fs.unlink(temp).catch(() => undefined);
      throw err;
    }
    if (options.preserve) {
      const mtime = await conn.client.lastMod(remotePath).catch(() => undefined);
      if (mtime && !Number.isNaN(mtime.getTime()))
        await fs.utimes(temp, mtime.getTime() / 1000, mtime.getTime() / 1000);
    }
    if (temp !== localPath) await fs.rename(temp, localPath);
    return {
      bytes: position,
      transferred: position - start,
      resumedFrom: start,
      sha256,
      verified,
      durationMs: performance.now() - started,
    };
  } finally {
    await fd?.close().catch(() => undefined);
    releaseClaim?.();
  }
}

/** A local file from `start` to `end` as a stream, hashed as it is read (the hash covers what was sent). */
function localStream(fd: FsFile, start: number, end: number, hash: Hash, onData: (n: number) => void) {
  let position = start;
  return new Readable({
    highWaterMark: 4 * CHUNK,
    read() {
      if (position >= end) {
        this.push(null);
        return;
      }
      fd.read(position, Math.min(CHUNK, end - position)).then(
        (data) => {
          if (data.length === 0) {
            this.destroy(new IntegrityError('local file shrank during upload'));
            return;
          }
          hash.update(data);
          position += data.length;
          onData(data.length);
          this.push(data);
        },
        (err: Error) => this.destroy(err),
      );
    },
  });
}

/**
 * Uploads to the remote temporary name (`.NAME.ferry-part`), appending (APPE) to what an interrupted run left
 * there, then checks size and SHA-256 before renaming it into place. A partial that is not this file's prefix is
 * caught by the check after the transfer (as OpenSSH's reput trusts the size): it is removed and the next attempt
 * starts over.
 */
export async function ftpsUpload(
  conn: FtpsConnection,
  localFile: LocalFile,
  remotePath: string,
  options: TransferOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  const temp = options.useTempName === false ? remotePath : partName(remotePath, 'posix');
  const fd = await localFile.fs.open(localFile.path, { read: true, write: false });
  try {
    const local = await fd.stat();
    if (local.kind !== 'file') throw new InvalidArgumentError(`${localFile.path}: not a regular file`);
    const size = local.size;
    let start = 0;
    if (options.resume !== false && temp !== remotePath) {
      const remote = await trySize(conn, temp);
      if (remote !== undefined && remote <= size) start = remote;
    }
    const hash = createHash('sha256');
    if (start > 0) await hashLocalPrefix(fd, start, hash);
    let done = start;
    const source = localStream(fd, start, size, hash, (n) => {
      done += n;
      options.onProgress?.(done, size);
    });
    await abortable(conn, options.signal, () =>
      start > 0 ? conn.client.appendFrom(source, temp) : conn.client.uploadFrom(source, temp),
    );
    if (done !== size) throw new IntegrityError(`${localFile.path}: ${done} of ${size} bytes read`);
    const sha256 = hash.digest('hex');
    const remoteSize = await conn.client.size(temp);
    if (remoteSize !== size) {
      if (temp !== remotePath) await conn.client.remove(temp).catch(() => undefined);
      throw new IntegrityError(`${remotePath}: ${size} bytes sent, the server reports ${remoteSize}`);
    }
    let verified: Verification;
    try {
      verified = await verify(conn, temp, sha256, options.readBack);
    } catch (err) {
      if (err instanceof IntegrityError) await conn.client.remove(temp).catch(() => undefined);
      throw err;
    }
    if (temp !== remotePath) await conn.client.rename(temp, remotePath);
    return {
      bytes: size,
      transferred: size - start,
      resumedFrom: start,
      sha256,
      verified,
      durationMs: performance.now() - started,
    };
  } finally {
    await fd.close();
  }
}
