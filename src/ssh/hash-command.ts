// `md5sum`/`sha1sum`/`sha256sum`/... over SSH exec: the command line parsed without a shell, and each file hashed
// through the core (chroot, read permission, audit, maxHashBytes), printed the way coreutils prints it.
import { createHash } from 'node:crypto';
import type { FileSession, HashAlgorithm, OpenMode } from '../core/types.js';
import { toFerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  ChannelReader,
  type ScpChannel as ExecChannel,
  flushChannel,
  writeToChannel,
} from '../scp/channel-io.js';
import { MAX_COMMAND_LENGTH, splitShellWords } from '../scp/command.js';
import { errorText } from '../scp/messages.js';

/** The coreutils names served, and the algorithm each one means. */
export const HASH_COMMANDS: Readonly<Record<string, HashAlgorithm>> = {
  md5sum: 'md5',
  sha1sum: 'sha1',
  sha224sum: 'sha224',
  sha256sum: 'sha256',
  sha384sum: 'sha384',
  sha512sum: 'sha512',
};

/** More operands than this are refused: each one is a file opened and read, so one exec must not name thousands. */
export const MAX_HASH_FILES = 256;

/**
 * Standard input hashed when no file is named (rclone's probe sends nothing and expects the empty digest).
 * Bounded because it is held in memory; coreutils has no such limit, but nobody pipes gigabytes to a file server.
 */
export const MAX_STDIN_BYTES = 1024 * 1024;

export interface HashCommand {
  /** The command name as typed (`sha256sum`), for error lines. */
  readonly name: string;
  readonly algorithm: HashAlgorithm;
  /** Virtual paths as the client wrote them; empty: hash standard input (printed as `-`). */
  readonly files: readonly string[];
}

/**
 * Parses `sha256sum [--] FILE...`. Returns null for anything else (other commands, options such as `-c`,
 * shell syntax, too many operands), and the caller refuses the exec as it refuses every other command.
 */
export function parseHashCommand(command: string): HashCommand | null {
  if (command.length > MAX_COMMAND_LENGTH) return null;
  const words = splitShellWords(command);
  if (words === null || words.length === 0) return null;
  const name = words[0]!;
  const algorithm = Object.hasOwn(HASH_COMMANDS, name) ? HASH_COMMANDS[name] : undefined;
  if (!algorithm) return null;
  let operands = words.slice(1);
  if (operands[0] === '--') operands = operands.slice(1);
  // `-` (stdin) is an operand, not an option; every other dash word before `--` is an option we do not serve.
  else if (operands.some((word) => word.startsWith('-') && word !== '-')) return null;
  if (operands.length > MAX_HASH_FILES || operands.some((word) => word.length === 0)) return null;
  return { name, algorithm, files: operands };
}

const READ_MODE: OpenMode = {
  read: true,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
};

export interface HashServeOptions {
  logger: Logger;
  /** Aborted when the connection is gone: a long hash stops. */
  signal?: AbortSignal | undefined;
}

/**
 * Runs the command to the end: one `HEX  NAME` line per file on stdout, one `NAME: FILE: reason` line on stderr
 * per file that could not be hashed, then exit status 0 (all hashed) or 1, as coreutils does. Never throws.
 */
export async function serveHashCommand(
  channel: ExecChannel,
  command: HashCommand,
  session: FileSession,
  options: HashServeOptions,
): Promise<void> {
  const logger = options.logger.child({ exec: command.name });
  // A client that goes away mid-hash must not keep the session (and a file handle) open.
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  channel.once('close', stop);
  if (options.signal?.aborted) stop();
  else options.signal?.addEventListener('abort', stop, { once: true });
  let failures = 0;
  // No operand means standard input, as with coreutils; it can be read once (`sha256sum - -` hashes it, then nothing).
  const files = command.files.length === 0 ? ['-'] : command.files;
  let stdinUsed = false;
  // Input nobody will read is drained, or it would sit in the window and hold the channel's close back.
  if (!files.includes('-')) channel.resume();
  try {
    for (const file of files) {
      if (abort.signal.aborted) break;
      try {
        let digest: Buffer;
        if (file === '-') {
          digest = stdinUsed
            ? createHash(command.algorithm).digest()
            : await stdinDigest(channel, command.algorithm);
          stdinUsed = true;
        } else {
          digest = await hashFile(session, file, command.algorithm, abort.signal);
        }
        await writeToChannel(channel, hashLine(digest, file));
      } catch (err) {
        if (abort.signal.aborted) break;
        failures++;
        logger.info({ code: toFerryError(err).code, path: file }, 'hash command: file not hashed');
        writeErrorLine(channel, `${command.name}: ${printableName(file)}: ${fileErrorText(err)}\n`);
      }
    }
  } catch (err) {
    // Only the channel itself can fail here (the peer left): nobody to tell.
    failures++;
    logger.info({ err }, 'hash command ended by the peer');
  }
  try {
    await session.close();
  } catch (err) {
    logger.warn({ err }, 'hash command: closing the file session failed');
  }
  channel.off('close', stop);
  options.signal?.removeEventListener('abort', stop);
  try {
    // exit-status is a channel request and would overtake output still waiting for window space.
    await flushChannel(channel);
    channel.exit(failures > 0 ? 1 : 0);
    channel.end();
  } catch (err) {
    logger.warn({ err }, 'hash command: ending the channel failed');
  }
}

async function hashFile(
  session: FileSession,
  path: string,
  algorithm: HashAlgorithm,
  signal: AbortSignal,
): Promise<Buffer> {
  const handle = await session.openFile(path, READ_MODE);
  try {
    // The core checks download permission, refuses more than maxHashBytes before reading, audits the read.
    const [digest] = await handle.checksum({ algorithm, offset: 0, length: 0, blockSize: 0 }, { signal });
    return digest!;
  } finally {
    await handle.close().catch(() => {});
  }
}

class StdinTooLargeError extends Error {}

async function stdinDigest(channel: ExecChannel, algorithm: HashAlgorithm): Promise<Buffer> {
  const hash = createHash(algorithm);
  const reader = new ChannelReader(channel);
  let total = 0;
  for (;;) {
    const chunk = await reader.readUpTo(64 * 1024);
    if (chunk === null) break;
    total += chunk.length;
    if (total > MAX_STDIN_BYTES) throw new StdinTooLargeError();
    hash.update(chunk);
  }
  return hash.digest();
}

/**
 * coreutils' line: `HEX  NAME`; a name holding a backslash, CR or LF is escaped and the line starts with `\`
 * so that `sha256sum -c` can read it back.
 */
export function hashLine(digest: Buffer, name: string): string {
  const hex = digest.toString('hex');
  if (!/[\\\n\r]/.test(name)) return `${hex}  ${name}\n`;
  const escaped = name.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r');
  return `\\${hex}  ${escaped}\n`;
}

function printableName(name: string): string {
  return name.replace(/[\x00-\x1f\x7f]/g, '?');
}

function fileErrorText(err: unknown): string {
  if (err instanceof StdinTooLargeError) return `input larger than ${MAX_STDIN_BYTES} bytes is not hashed`;
  const code = toFerryError(err).code;
  // The core's own message may name backend paths; only the code reaches the wire.
  if (code === 'ERR_LIMIT') return 'File too large to hash on this server';
  return errorText(err);
}

function writeErrorLine(channel: ExecChannel, text: string): void {
  if (channel.destroyed || !channel.stderr.writable) return;
  channel.stderr.write(text);
}
