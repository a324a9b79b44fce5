// State one scp run shares between its sink or source loop and the entry point: I/O, session, error count.
import type { FileSession } from '../core/types.js';
import { FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type ChannelReader, ConnectionLostError, type ScpChannel, writeToChannel } from './channel-io.js';
import { MAX_CONTROL_LINE, printable } from './control.js';
import { errorText, pathMessage, warningLine } from './messages.js';

/** The peer sent a fatal (`\x02`) message: the transfer stops without another word from us. */
export class PeerAbortError extends ConnectionLostError {
  constructor(message: string) {
    super(`peer aborted: ${message}`);
  }
}

export class Transfer {
  /** Errors reported either way; any makes the exit status 1, as OpenSSH's `errs`. */
  errors = 0;

  constructor(
    readonly channel: ScpChannel,
    readonly reader: ChannelReader,
    readonly session: FileSession,
    readonly logger: Logger,
  ) {}

  send(data: Buffer | string): Promise<void> {
    return writeToChannel(this.channel, data);
  }

  ack(): Promise<void> {
    return this.send(Buffer.alloc(1));
  }

  /** Reports a per-file failure to the peer (`\x01`), logs the real cause, and counts it. */
  async warn(path: string, err: unknown, context?: string): Promise<void> {
    const reason = context ? `${context}: ${errorText(err)}` : errorText(err);
    this.logger.info({ err, path }, 'scp: %s', reason);
    await this.warnText(pathMessage(path, reason));
  }

  async warnText(text: string): Promise<void> {
    this.errors++;
    await this.send(warningLine(text));
  }

  /**
   * Reads the peer's answer to something we sent: true for `\0`; false after a `\x01` warning
   * (the current item is skipped); throws PeerAbortError on `\x02` and ConnectionLostError on EOF.
   */
  async readResponse(): Promise<boolean> {
    const byte = await this.reader.readByte();
    if (byte === null) throw new ConnectionLostError();
    if (byte === 0) return true;
    const message = await this.readPeerMessage();
    if (byte === 1) {
      this.errors++;
      this.logger.info({ peerMessage: message }, 'scp peer reported an error');
      return false;
    }
    if (byte === 2) throw new PeerAbortError(message);
    // Not a response at all: the first byte belongs to the (bogus) message, as in OpenSSH.
    throw new PeerAbortError(`unexpected response ${printable(String.fromCharCode(byte))}${message}`);
  }

  /** The rest of a `\x01`/`\x02` line from the peer, made printable for logs. */
  async readPeerMessage(): Promise<string> {
    const line = await this.reader.readLine(MAX_CONTROL_LINE, () => new PeerAbortError('message too long'));
    return printable(line ?? '');
  }
}

/** Ends the whole transfer with a `\x02` line carrying `message` (already safe to show the peer). */
export class FatalTransferError extends FerryError {
  constructor(message: string) {
    super('ERR_PROTOCOL', message);
  }
}

/** Joins a virtual directory path and one validated name without normalising either. */
export function joinPath(directory: string, name: string): string {
  return directory.endsWith('/') ? directory + name : `${directory}/${name}`;
}
