// Receives files from the peer (`scp -t`): control records in, uploads written through the core in bounded chunks.
import type { FileHandle, OpenMode, SetAttrs } from '../core/types.js';
import { ProtocolError, toFerryError } from '../errors.js';
import { ConnectionLostError } from './channel-io.js';
import type { ScpSinkCommand } from './command.js';
import { type ControlRecord, MAX_CONTROL_LINE, parseControlLine } from './control.js';
import { errorText, pathMessage } from './messages.js';
import { FatalTransferError, joinPath, PeerAbortError, type Transfer } from './transfer.js';

/** Bytes gathered from the channel before one write to the core. */
export const WRITE_CHUNK = 256 * 1024;
/** Deeper D nesting than this ends the transfer: no real tree needs it, and each level holds state. */
export const MAX_DIRECTORY_DEPTH = 128;
/**
 * Failed uploads are left open for session.close() to abandon (closing them would publish a partial
 * file); past this many the transfer stops so a hostile peer cannot pile up open handles.
 */
export const MAX_ABANDONED_UPLOADS = 16;

const WRITE_MODE: OpenMode = {
  read: false,
  write: true,
  append: false,
  create: true,
  truncate: true,
  exclusive: false,
};

interface Times {
  readonly mtime: number;
  readonly atime: number;
}

interface DirectoryFrame {
  readonly path: string;
  /** Whether names are created inside `path` (false: the one target file is `path` itself). */
  readonly isDirectory: boolean;
  /** Applied when the directory is left, so writing its contents does not disturb them. */
  readonly attrs: SetAttrs | null;
}

export async function runSink(transfer: Transfer, command: ScpSinkCommand): Promise<void> {
  const { session } = transfer;
  const target = command.target;
  let targetIsDirectory = false;
  let targetStatError: unknown = null;
  try {
    targetIsDirectory = (await session.stat(target)).kind === 'directory';
  } catch (err) {
    // A missing target is normal (it is the name to create); anything else only matters with -d.
    targetStatError = err;
  }
  if (command.targetMustBeDirectory && !targetIsDirectory) {
    const reason = targetStatError ? errorText(targetStatError) : 'Not a directory';
    throw new FatalTransferError(pathMessage(target, reason));
  }

  const stack: DirectoryFrame[] = [{ path: target, isDirectory: targetIsDirectory, attrs: null }];
  let times: Times | null = null;
  let abandoned = 0;
  await transfer.ack();

  for (;;) {
    const record = await readRecord(transfer);
    if (record === null) return;
    const frame = stack[stack.length - 1]!;
    switch (record.type) {
      case 'times':
        times = { mtime: record.mtime, atime: record.atime };
        await transfer.ack();
        break;
      case 'end-directory':
        // E at the top level ends the run, as OpenSSH's outermost sink() returns on it.
        if (stack.length === 1) {
          await transfer.ack();
          return;
        }
        stack.pop();
        if (await applyAttrs(transfer, frame.path, frame.attrs)) await transfer.ack();
        break;
      case 'directory': {
        if (!command.recursive) throw new ProtocolError('received directory without -r');
        if (stack.length > MAX_DIRECTORY_DEPTH) throw new FatalTransferError('directory tree too deep');
        const path = frame.isDirectory ? joinPath(frame.path, record.name) : frame.path;
        const entered = await enterDirectory(transfer, path, record.mode, command.preserve, times);
        times = null;
        if (entered) {
          stack.push(entered);
          await transfer.ack();
        }
        break;
      }
      case 'file': {
        const path = frame.isDirectory ? joinPath(frame.path, record.name) : frame.path;
        const fileTimes = times;
        times = null;
        const outcome = await receiveFile(
          transfer,
          path,
          record.mode,
          record.size,
          command.preserve,
          fileTimes,
        );
        if (outcome === 'abandoned' && ++abandoned > MAX_ABANDONED_UPLOADS) {
          throw new FatalTransferError('too many failed uploads');
        }
        break;
      }
    }
  }
}

/** The next control record, or null when the peer has closed its side (its way of saying "done"). */
async function readRecord(transfer: Transfer): Promise<ControlRecord | null> {
  for (;;) {
    const first = await transfer.reader.readByte();
    if (first === null) return null;
    // The peer's source could not read something; it reports it in place of a record and goes on.
    if (first === 1 || first === 2) {
      const message = await transfer.readPeerMessage();
      transfer.errors++;
      transfer.logger.info({ peerMessage: message }, 'scp peer reported an error');
      if (first === 2) throw new PeerAbortError(message);
      continue;
    }
    const rest = await transfer.reader.readLine(
      MAX_CONTROL_LINE,
      () => new ProtocolError('control line too long'),
    );
    if (rest === null) throw new ConnectionLostError('connection lost in a control record');
    return parseControlLine(String.fromCharCode(first) + rest);
  }
}

/** Creates or reuses the directory for a D record; null (after a warning to the peer) skips its subtree. */
async function enterDirectory(
  transfer: Transfer,
  path: string,
  mode: number,
  preserve: boolean,
  times: Times | null,
): Promise<DirectoryFrame | null> {
  const { session } = transfer;
  const permissions = mode & 0o777;
  let exists = false;
  try {
    const stat = await session.stat(path);
    if (stat.kind !== 'directory') {
      await transfer.warnText(pathMessage(path, 'Not a directory'));
      return null;
    }
    exists = true;
  } catch (err) {
    if (toFerryError(err).code !== 'ERR_NOT_FOUND') {
      await transfer.warn(path, err);
      return null;
    }
  }
  // The owner keeps rwx while the tree is written (a read-only directory could not be filled);
  // the sent mode is put back when the directory is left.
  const createMode = permissions | 0o700;
  if (!exists) {
    try {
      await session.mkdir(path, { mode: createMode });
    } catch (err) {
      await transfer.warn(path, err);
      return null;
    }
  }
  const attrs: SetAttrs = {};
  if (preserve || (!exists && createMode !== permissions)) attrs.mode = permissions;
  if (times) {
    attrs.mtime = times.mtime;
    attrs.atime = times.atime;
  }
  return { path, isDirectory: true, attrs: Object.keys(attrs).length > 0 ? attrs : null };
}

type ReceiveOutcome = 'completed' | 'refused' | 'abandoned';

/**
 * One C record: open through the core, ack, stream exactly `size` bytes, read the peer's status byte,
 * complete the upload, then answer with one ack or one warning (never both, as the peer reads one).
 */
async function receiveFile(
  transfer: Transfer,
  path: string,
  mode: number,
  size: number,
  preserve: boolean,
  times: Times | null,
): Promise<ReceiveOutcome> {
  const { session, reader } = transfer;
  const permissions = mode & 0o777;
  let handle: FileHandle;
  try {
    handle = await session.openFile(path, WRITE_MODE, { mode: permissions });
  } catch (err) {
    // The warning replaces the ack: the peer then skips this file's bytes.
    await transfer.warn(path, err);
    return 'refused';
  }
  await transfer.ack();

  let received = 0;
  let written = 0;
  let writeError: unknown = null;
  const parts: Buffer[] = [];
  let buffered = 0;
  while (received < size) {
    // Not reading while the core writes is the backpressure: the channel's buffer fills, then the window.
    const chunk = await reader.readUpTo(Math.min(size - received, WRITE_CHUNK));
    if (chunk === null) throw new ConnectionLostError('connection lost during a file');
    received += chunk.length;
    // After a failed write the rest is read and dropped to stay in step with the peer.
    if (writeError !== null) continue;
    parts.push(chunk);
    buffered += chunk.length;
    if (buffered < WRITE_CHUNK && received < size) continue;
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, buffered);
    parts.length = 0;
    buffered = 0;
    try {
      await handle.write(written, data);
      written += data.length;
    } catch (err) {
      writeError = err;
    }
  }

  // The peer ends the bytes with \0, or with a warning if it could not read its own file.
  const peerOk = await transfer.readResponse();
  if (writeError !== null) {
    await transfer.warn(path, writeError);
    return 'abandoned';
  }
  if (!peerOk) {
    // The peer padded what it could not read; that content must not be published. It has reported
    // the error itself and, like OpenSSH's source, waits for one answer.
    await transfer.ack();
    return 'abandoned';
  }
  try {
    await handle.close();
  } catch (err) {
    await transfer.warn(path, err);
    return 'refused';
  }

  const attrs: SetAttrs = {};
  if (preserve) {
    try {
      const stat = await session.stat(path);
      // Only ask for chmod when it changes something, so a user without chmod rights is not refused for nothing.
      if ((stat.mode & 0o777) !== permissions) attrs.mode = permissions;
    } catch (err) {
      await transfer.warn(path, err);
      return 'completed';
    }
  }
  if (times) {
    attrs.mtime = times.mtime;
    attrs.atime = times.atime;
  }
  if (await applyAttrs(transfer, path, Object.keys(attrs).length > 0 ? attrs : null)) await transfer.ack();
  return 'completed';
}

/** Sets mode/times; on failure warns the peer (in place of the ack) and returns false. */
async function applyAttrs(transfer: Transfer, path: string, attrs: SetAttrs | null): Promise<boolean> {
  if (attrs === null) return true;
  try {
    await transfer.session.setstat(path, attrs);
    return true;
  } catch (err) {
    await transfer.warn(path, err, attrs.mtime !== undefined ? 'set times' : 'set mode');
    return false;
  }
}
