// Pull-style reading and backpressured writing on an SSH exec channel: nothing is read while the core works.
import type { Duplex, Writable } from 'node:stream';
import { FerryError } from '../errors.js';

/** The exec channel as the SSH layer hands it over (ssh2's ServerChannel has this shape). */
export type ScpChannel = Duplex & { exit(code: number): void; stderr: Writable };

/** The peer went away (EOF, close or channel error) where the protocol needed more from it. */
export class ConnectionLostError extends FerryError {
  constructor(message = 'connection lost', options?: { cause?: unknown }) {
    super('ERR_PROTOCOL', message, options);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads a channel on demand. It never attaches a 'data' listener, so bytes stay in the stream's
 * bounded buffer (and, through ssh2, in the client's window) until the protocol asks for them.
 */
export class ChannelReader {
  readonly #stream: Duplex;
  #pending: Buffer = EMPTY;
  #finished = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(stream: Duplex) {
    this.#stream = stream;
    const wake = (): void => {
      const resolve = this.#wake;
      this.#wake = null;
      resolve?.();
    };
    stream.on('readable', () => {
      // Once the peer has sent EOF nothing more can arrive, so taking what is buffered is bounded; it
      // lets the stream emit 'end' (and ssh2 'close') even while we are blocked writing, not reading.
      if (this.#peerSentEof()) this.#drainEnded();
      wake();
    });
    stream.on('end', () => {
      this.#finished = true;
      wake();
    });
    stream.on('close', () => {
      this.#finished = true;
      wake();
    });
    // Without a listener a channel error would crash the process; it ends this transfer instead.
    stream.on('error', (err: Error) => {
      this.#error = err;
      wake();
    });
  }

  /** The next byte, or null at end of stream. */
  async readByte(): Promise<number | null> {
    if (!(await this.#fill())) return null;
    const byte = this.#pending[0]!;
    this.#pending = this.#pending.subarray(1);
    return byte;
  }

  /**
   * Bytes up to (not including) the next '\n', decoded as UTF-8; null at end of stream before any
   * byte. Throws ConnectionLostError on EOF mid-line and `tooLong()` past `maxLength` bytes.
   */
  async readLine(maxLength: number, tooLong: () => Error): Promise<string | null> {
    const parts: Buffer[] = [];
    let length = 0;
    for (;;) {
      if (!(await this.#fill())) {
        if (length === 0 && parts.length === 0) return null;
        throw new ConnectionLostError('connection lost in the middle of a line');
      }
      const newline = this.#pending.indexOf(0x0a);
      const take = newline < 0 ? this.#pending.length : newline;
      if (length + take > maxLength) throw tooLong();
      parts.push(this.#pending.subarray(0, take));
      length += take;
      if (newline >= 0) {
        this.#pending = this.#pending.subarray(newline + 1);
        return Buffer.concat(parts, length).toString('utf8');
      }
      this.#pending = EMPTY;
    }
  }

  /** Up to `max` bytes (at least one), or null at end of stream. */
  async readUpTo(max: number): Promise<Buffer | null> {
    if (!(await this.#fill())) return null;
    const chunk = this.#pending.subarray(0, max);
    this.#pending = this.#pending.subarray(chunk.length);
    return chunk;
  }

  #peerSentEof(): boolean {
    // Node has no public flag for "EOF pushed but 'end' not yet emitted"; readableEnded comes too late.
    const state = (this.#stream as unknown as { _readableState?: { ended?: boolean } })._readableState;
    return state?.ended === true;
  }

  #drainEnded(): void {
    const parts: Buffer[] = [this.#pending];
    for (;;) {
      const chunk: unknown = this.#stream.read();
      if (chunk === null) break;
      parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), 'utf8'));
    }
    if (parts.length > 1) this.#pending = Buffer.concat(parts);
  }

  async #fill(): Promise<boolean> {
    while (this.#pending.length === 0) {
      if (this.#error) return false;
      const chunk: unknown = this.#stream.read();
      if (chunk !== null) {
        this.#pending = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), 'utf8');
        continue;
      }
      if (this.#finished || this.#stream.destroyed || this.#stream.readableEnded) return false;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    return true;
  }
}

/**
 * Resolves once everything written so far has been handed to the transport (ssh2 calls a write's
 * callback only when its bytes fit the peer's window), or once the channel is gone.
 */
export async function flushChannel(channel: Duplex, timeoutMs = 10_000): Promise<void> {
  if (channel.destroyed || !channel.writable) return;
  await new Promise<void>((resolve) => {
    // Bounded: a peer that stopped reading must not hold the channel (and its session) open.
    const timer = setTimeout(() => done(), timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      channel.off('close', done);
      resolve();
    };
    channel.once('close', done);
    channel.write(EMPTY, done);
  });
}

/** Writes and waits for 'drain' when the channel's buffer is full; rejects once the channel is gone. */
export async function writeToChannel(channel: Duplex, data: Buffer | string): Promise<void> {
  if (channel.destroyed || channel.writableEnded) throw new ConnectionLostError('channel closed');
  if (channel.write(data)) return;
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      channel.off('drain', onDrain);
      channel.off('close', onClose);
      channel.off('error', onError);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new ConnectionLostError('channel closed'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new ConnectionLostError('channel error', { cause: err }));
    };
    channel.on('drain', onDrain);
    channel.on('close', onClose);
    channel.on('error', onError);
  });
}
