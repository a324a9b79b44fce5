// An SFTP session's input: the channel's data cut into packets, and the brake when the session must stop reading.
// Through ssh2's stream, or, when the connection reads its socket into reused memory (util/socket-reads.ts),
// through the channel's data sink into a framer that copies each byte out at once.
import type { Duplex } from 'node:stream';
import type { SinkTap } from '../util/socket-reads.js';
import { CopyingPacketFramer } from './wire/copying-framer.js';
import { type FramedPacket, PacketFramer } from './wire/framer.js';
import { MIN_STAGED_WRITE, type WriteBufferPool } from './write-buffers.js';

/*
 * Backpressure (node_modules/ssh2/lib/Channel.js, server.js): the server's CHANNEL_DATA handler subtracts each
 * chunk from `incoming.window` and push()es it into the Readable (highWaterMark = MAX_WINDOW = 2 MiB). It sends
 * WINDOW_ADJUST (topping the window up to 2 MiB) only when push() returned true and the window fell to 1 MiB or
 * less. When we pause() the channel, chunks pile up in the Readable buffer; once it holds 2 MiB push() returns
 * false, ssh2 sets `_waitChanDrain` and stops adjusting, so the client runs out of window and must stop sending. Channel
 * `_read()` (called when we resume and drain the buffer) sends the pending adjustment. Worst case we hold
 * ~2 MiB buffered + up to one 2 MiB window of raw request bytes; the client is stopped at the SSH layer.
 * With the sink the copying framer holds what arrives (the same bound: one window), a false return from the sink
 * withholds the adjustment as a full stream does, and resume() sends it through `_read()`.
 */

/**
 * ssh2's channel with our patch (patches/ssh2): a sink called with each payload on the parser's call stack;
 * returning false holds the client's window back until `_read()`, ssh2's own way to send the adjustment.
 */
type SinkChannel = Duplex & {
  ferryDataSink: ((data: Buffer) => boolean) | null;
  _read(size: number): void;
};

function hasDataSink(channel: Duplex): channel is SinkChannel {
  return 'ferryDataSink' in channel && typeof (channel as SinkChannel)._read === 'function';
}

export interface ChannelInputOptions {
  readonly maxPacketLength: number;
  readonly writeBuffers: WriteBufferPool;
  /** The connection's reads; without it (or a patched ssh2) the stream is used. */
  readonly tap: SinkTap | undefined;
  /** Called after input arrived: the session takes what it can. */
  readonly onInput: () => void;
  /** Input arriving after teardown started is dropped. */
  readonly stopping: () => boolean;
  /** A sink that throws must not reach ssh2's parser (it would end the whole connection). */
  readonly onSinkError: (err: unknown) => void;
}

export class ChannelInput {
  readonly #channel: Duplex;
  readonly #options: ChannelInputOptions;
  readonly #framer: PacketFramer | CopyingPacketFramer;
  /** The channel, when its data comes through the sink (the connection's reads and a patched ssh2). */
  readonly #sink: SinkChannel | undefined;
  #held = false;

  constructor(channel: Duplex, options: ChannelInputOptions) {
    this.#channel = channel;
    this.#options = options;
    const tap = options.tap;
    if (tap === undefined || !hasDataSink(channel)) {
      this.#framer = new PacketFramer(options.maxPacketLength);
      this.#sink = undefined;
      return;
    }
    this.#framer = new CopyingPacketFramer(options.maxPacketLength, {
      minBytes: MIN_STAGED_WRITE,
      lend: (length) => {
        tap.bulk();
        return options.writeBuffers.lend(length);
      },
    });
    this.#sink = channel;
  }

  /** Starts taking the channel's data. */
  start(): void {
    const options = this.#options;
    const framer = this.#framer;
    const sink = this.#sink;
    const tap = options.tap;
    if (sink === undefined || tap === undefined) {
      this.#channel.on('data', (chunk: Buffer) => {
        if (options.stopping()) return;
        framer.push(chunk);
        options.onInput();
      });
      return;
    }
    sink.ferryDataSink = (data) => {
      tap.sunk();
      if (options.stopping()) return true;
      try {
        framer.push(data);
        options.onInput();
      } catch (err) {
        options.onSinkError(err);
      }
      return !this.#held;
    };
    // Flowing, so the stream reports the client's EOF; with a sink no data comes this way.
    this.#channel.on('data', () => {});
  }

  /** Bytes received but not yet returned as packets. */
  get bufferedBytes(): number {
    return this.#framer.bufferedBytes;
  }

  /** The next whole packet, or null until more arrives; throws ProtocolError on a bad length. */
  nextPacket(): FramedPacket | null {
    return this.#framer.nextPacket();
  }

  /** Stops the client: its window is not topped up (a paused stream fills up to the same effect). */
  pause(): void {
    if (this.#sink) this.#held = true;
    else this.#channel.pause();
  }

  resume(): void {
    if (this.#sink) {
      this.#held = false;
      this.#sink._read(0);
    } else {
      this.#channel.resume();
    }
  }
}
