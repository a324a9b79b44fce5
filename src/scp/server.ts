// Entry point the SSH layer calls for an `scp -t/-f` exec request: runs one transfer, reports, exits, closes.
import type { FileSession } from '../core/types.js';
import { ProtocolError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ChannelReader, ConnectionLostError, flushChannel, type ScpChannel } from './channel-io.js';
import type { ScpCommand } from './command.js';
import { errorText, fatalLine } from './messages.js';
import { runSink } from './sink.js';
import { runSource } from './source.js';
import { FatalTransferError, Transfer } from './transfer.js';

export type { ScpChannel } from './channel-io.js';
export { parseScpCommand, type ScpCommand, type ScpSinkCommand, type ScpSourceCommand } from './command.js';

export interface ScpServeOptions {
  logger: Logger;
  /** Aborted when the connection is gone: the transfer ends even if the channel never reports it. */
  signal?: AbortSignal | undefined;
}

/**
 * What is served, and what is not:
 * - `scp -t [-r] [-p] [-d] PATH` (upload) and `scp -f [-r] [-p] PATH...` (download), flags -v and -d
 *   accepted wherever OpenSSH puts them; anything else is refused by parseScpCommand.
 * - No shell: quotes and backslashes are undone and `~` is the home, but wildcards are taken
 *   literally (no expansion) and command lines with operators or `$` are refused.
 * - Downloads with -r follow links to files and skip links to directories (loops); `/` or `.` as a
 *   source is sent under its canonical name, the home under the user's name.
 * - An upload that fails mid-way (write error, or the peer could not read its file) is not
 *   completed: its handle is left to session.close(), which abandons it.
 *
 * Runs the protocol to the end. Exits the channel with 0 on success and 1 after any error (either
 * side's), ends it, and closes the session. Never throws: every failure ends this transfer only.
 */
export async function serveScp(
  channel: ScpChannel,
  command: ScpCommand,
  session: FileSession,
  options: ScpServeOptions,
): Promise<void> {
  const logger = options.logger.child({ scp: command.kind });
  // ssh2 emits a server channel's 'close' only after its input was read to the end, which a transfer blocked
  // on a write never does; the connection's end is as final as the channel's, so report it the same way.
  let channelClosed = false;
  channel.once('close', () => {
    channelClosed = true;
  });
  const connectionGone = (): void => {
    if (!channelClosed) channel.emit('close');
  };
  if (options.signal?.aborted) connectionGone();
  else options.signal?.addEventListener('abort', connectionGone, { once: true });
  const transfer = new Transfer(channel, new ChannelReader(channel), session, logger);
  try {
    if (command.kind === 'sink') await runSink(transfer, command);
    else await runSource(transfer, command);
  } catch (err) {
    transfer.errors++;
    reportFatal(channel, logger, err);
  }
  const status = transfer.errors > 0 ? 1 : 0;
  try {
    await session.close();
  } catch (err) {
    logger.warn({ err }, 'scp: closing the file session failed');
  }
  await finish(channel, logger, status);
  // The connection outlives this channel: leave nothing registered on it.
  options.signal?.removeEventListener('abort', connectionGone);
  logger.debug({ status, errors: transfer.errors }, 'scp transfer finished');
}

function reportFatal(channel: ScpChannel, logger: Logger, err: unknown): void {
  if (err instanceof ConnectionLostError) {
    // The peer left or gave up (\x02): there is nobody to tell.
    logger.info({ err }, 'scp transfer ended by the peer');
    return;
  }
  let text: string;
  if (err instanceof ProtocolError) {
    text = `protocol error: ${err.message}`;
    logger.info({ err }, 'scp protocol error');
  } else if (err instanceof FatalTransferError) {
    text = err.message;
    logger.info({ err }, 'scp transfer stopped');
  } else {
    text = errorText(err);
    logger.error({ err }, 'scp transfer failed');
  }
  // Fire and forget: a peer that stopped reading must not keep us from closing the channel.
  if (!channel.destroyed && channel.writable) channel.write(fatalLine(text));
}

async function finish(channel: ScpChannel, logger: Logger, status: number): Promise<void> {
  try {
    // exit-status is a channel request and would overtake data still waiting for window space.
    await flushChannel(channel);
    channel.exit(status);
    channel.end();
  } catch (err) {
    logger.warn({ err }, 'scp: ending the channel failed');
  }
}
