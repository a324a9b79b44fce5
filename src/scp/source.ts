// Sends files to the peer (`scp -f`): T/C/D/E records and file bytes read through the core in bounded chunks.
import type { FileHandle, FileStat, OpenMode } from '../core/types.js';
import { FerryError } from '../errors.js';
import type { ScpSourceCommand } from './command.js';
import { END_DIRECTORY, formatDirectory, formatFile, formatTimes, isSafeEntryName } from './control.js';
import { pathMessage } from './messages.js';
import { joinPath, type Transfer } from './transfer.js';

/** Bytes read from the core per call, then written to the channel with its backpressure. */
export const READ_CHUNK = 256 * 1024;
/** Directory recursion stops here (with a warning): deeper trees are not real, and each level holds a handle. */
export const MAX_SOURCE_DEPTH = 64;

const READ_MODE: OpenMode = {
  read: true,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
};

export async function runSource(transfer: Transfer, command: ScpSourceCommand): Promise<void> {
  // The peer's sink speaks first with \0; OpenSSH's source ignores what it says, and so do we.
  await transfer.readResponse();
  for (const source of command.sources) await sendTopLevel(transfer, command, source);
}

async function sendTopLevel(transfer: Transfer, command: ScpSourceCommand, source: string): Promise<void> {
  const path = trimTrailingSlashes(source);
  if (path.includes('\n')) {
    await transfer.warnText(pathMessage(path, 'skipping, filename contains a newline'));
    return;
  }
  let stat: FileStat;
  try {
    stat = await transfer.session.stat(path);
  } catch (err) {
    await transfer.warn(path, err);
    return;
  }
  if (stat.kind === 'directory' && !command.recursive) {
    await transfer.warnText(pathMessage(path, 'not a regular file'));
    return;
  }
  if (stat.kind !== 'directory' && stat.kind !== 'file') {
    await transfer.warnText(pathMessage(path, 'not a regular file'));
    return;
  }
  let name: string;
  try {
    name = await entryNameFor(transfer, path);
  } catch (err) {
    await transfer.warn(path, err);
    return;
  }
  if (stat.kind === 'directory') await sendDirectory(transfer, command, path, name, stat, 0);
  else await sendFile(transfer, command, path, name);
}

/**
 * The name the peer creates. Paths like '.', '..' or '/' have no usable last component (OpenSSH
 * would send one the client refuses), so the canonical path's is used, and for the home itself the
 * user name.
 */
async function entryNameFor(transfer: Transfer, path: string): Promise<string> {
  const last = lastComponent(path);
  if (isSafeEntryName(last)) return last;
  const canonical = lastComponent(await transfer.session.realpath(path));
  if (isSafeEntryName(canonical)) return canonical;
  const user = transfer.session.identity.username;
  return isSafeEntryName(user) && !user.includes('\n') ? user : 'home';
}

async function sendFile(
  transfer: Transfer,
  command: ScpSourceCommand,
  path: string,
  name: string,
): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await transfer.session.openFile(path, READ_MODE);
  } catch (err) {
    await transfer.warn(path, err);
    return;
  }
  try {
    await sendOpenFile(transfer, command, handle, path, name);
  } finally {
    await closeQuietly(transfer, handle, path);
  }
}

async function sendOpenFile(
  transfer: Transfer,
  command: ScpSourceCommand,
  handle: FileHandle,
  path: string,
  name: string,
): Promise<void> {
  let stat: FileStat;
  try {
    // The open handle's stat: the size announced is the size of what is being read.
    stat = await handle.stat();
  } catch (err) {
    await transfer.warn(path, err);
    return;
  }
  if (stat.kind !== 'file') {
    await transfer.warnText(pathMessage(path, 'not a regular file'));
    return;
  }
  if (command.preserve) {
    await transfer.send(formatTimes(stat.mtime, stat.atime));
    if (!(await transfer.readResponse())) return;
  }
  await transfer.send(formatFile(stat.mode, stat.size, name));
  if (!(await transfer.readResponse())) return;

  // The peer expects exactly stat.size bytes whatever happens: after a read error (or a file that
  // shrank) the rest is zeros, and the error is reported in place of the final \0, as OpenSSH does.
  let readError: unknown = null;
  let zeros: Buffer | null = null;
  let offset = 0;
  while (offset < stat.size) {
    const want = Math.min(READ_CHUNK, stat.size - offset);
    let data: Buffer | null = null;
    if (readError === null) {
      try {
        data = await handle.read(offset, want);
        if (data.length === 0) throw new FerryError('ERR_IO', 'file shrank while being sent');
        if (data.length > want) data = data.subarray(0, want);
      } catch (err) {
        readError = err;
        data = null;
      }
    }
    if (data === null) {
      zeros ??= Buffer.alloc(READ_CHUNK);
      data = zeros.subarray(0, want);
    }
    await transfer.send(data);
    offset += data.length;
  }
  if (readError !== null) await transfer.warn(path, readError);
  else await transfer.ack();
  await transfer.readResponse();
}

async function sendDirectory(
  transfer: Transfer,
  command: ScpSourceCommand,
  path: string,
  name: string,
  stat: FileStat,
  depth: number,
): Promise<void> {
  if (depth >= MAX_SOURCE_DEPTH) {
    await transfer.warnText(pathMessage(path, 'directory tree too deep, skipped'));
    return;
  }
  const { session } = transfer;
  let directory: Awaited<ReturnType<typeof session.openDir>>;
  try {
    directory = await session.openDir(path);
  } catch (err) {
    await transfer.warn(path, err);
    return;
  }
  try {
    if (command.preserve) {
      await transfer.send(formatTimes(stat.mtime, stat.atime));
      if (!(await transfer.readResponse())) return;
    }
    await transfer.send(formatDirectory(stat.mode, name));
    // A refused D means the peer skips the subtree and expects no E for it.
    if (!(await transfer.readResponse())) return;
    for (;;) {
      let batch: Awaited<ReturnType<typeof directory.read>>;
      try {
        batch = await directory.read();
      } catch (err) {
        // The peer already has the D: report, then close the level with E so it stays in step.
        await transfer.warn(path, err);
        break;
      }
      if (batch === null) break;
      for (const entry of batch) {
        if (entry.name === '.' || entry.name === '..') continue;
        const child = joinPath(path, entry.name);
        if (entry.name.includes('\n')) {
          await transfer.warnText(pathMessage(child, 'skipping, filename contains a newline'));
          continue;
        }
        let childStat = entry.stat;
        if (childStat.kind === 'symlink') {
          try {
            childStat = await session.stat(child);
          } catch (err) {
            await transfer.warn(child, err);
            continue;
          }
          // Links to files are sent as files; links to directories are not followed (loops, fan-out).
          if (childStat.kind === 'directory') {
            await transfer.warnText(pathMessage(child, 'not a regular file'));
            continue;
          }
        }
        if (childStat.kind === 'file') await sendFile(transfer, command, child, entry.name);
        else if (childStat.kind === 'directory')
          await sendDirectory(transfer, command, child, entry.name, childStat, depth + 1);
        else await transfer.warnText(pathMessage(child, 'not a regular file'));
      }
    }
    await transfer.send(END_DIRECTORY);
    await transfer.readResponse();
  } finally {
    await closeQuietly(transfer, directory, path);
  }
}

async function closeQuietly(
  transfer: Transfer,
  handle: { close(): Promise<void> },
  path: string,
): Promise<void> {
  try {
    await handle.close();
  } catch (err) {
    transfer.logger.warn({ err, path }, 'scp: closing a handle failed');
  }
}

function trimTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === '/') end--;
  return path.slice(0, end);
}

function lastComponent(path: string): string {
  const trimmed = trimTrailingSlashes(path);
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}
