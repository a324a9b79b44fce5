// A stored OpenPGP message read as its plaintext (decrypt-on-download): one sequential decryption cursor per handle.
import {
  ReadableStream,
  type ReadableStreamDefaultReader,
  type ReadableStreamReadResult,
} from 'node:stream/web';
import { FerryError, UnsupportedError } from '../../errors.js';
import type { Secret } from '../../util/secret.js';
import { withFields } from '../../util/with-fields.js';
import type { FsFile, FsStat } from '../types.js';

const READ_CHUNK = 256 * 1024;

type Decrypt = (
  input: ReadableStream<Uint8Array>,
) => Promise<{ data: ReadableStream<Uint8Array>; done: () => Promise<unknown> }>;

/**
 * Reads move a cursor through the plaintext: a read ahead of it decrypts and discards up to its offset, a read
 * behind it starts the decryption over from the first byte. Plaintext flows before the message's integrity check
 * (at its end); a message that fails it makes the read that reaches the end fail, so a client never receives a
 * clean end of file for modified content. `stat` reports `plainSize` (kept when the file was encrypted) when known.
 */
export class DecryptingFile implements FsFile {
  readonly #inner: FsFile;
  readonly #decrypt: Decrypt;
  readonly #plainSize: number | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #done: (() => Promise<unknown>) | undefined;
  /** Plaintext offset of the first byte of `#pending`. */
  #cursor = 0;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;
  /** Reads run one at a time, in the order they were asked. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(inner: FsFile, decrypt: Decrypt, plainSize: number | undefined) {
    this.#inner = inner;
    this.#decrypt = decrypt;
    this.#plainSize = plainSize;
  }

  get resolvedPath(): string | null | undefined {
    return this.#inner.resolvedPath;
  }

  async #start(): Promise<void> {
    await this.#reader?.cancel().catch(() => undefined);
    let position = 0;
    const inner = this.#inner;
    const cipher = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const chunk = await inner.read(position, READ_CHUNK);
          if (chunk.length === 0) controller.close();
          else {
            position += chunk.length;
            controller.enqueue(chunk);
          }
        },
      },
      { highWaterMark: 0 },
    );
    const { data, done } = await this.#decrypt(cipher);
    this.#reader = data.getReader();
    this.#done = done;
    this.#cursor = 0;
    this.#pending = Buffer.alloc(0);
    this.#ended = false;
  }

  /** Makes `#pending` hold at least `want` bytes, unless the plaintext ends first. */
  async #fill(want: number): Promise<void> {
    while (this.#pending.length < want && !this.#ended) {
      const reader = this.#reader;
      if (!reader) throw new FerryError('ERR_IO', 'decryption not started');
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
        if (next.done) await this.#done?.();
      } catch (err) {
        // Modified, truncated or wrongly signed content: an I/O error, never a clean end of file.
        throw new FerryError('ERR_IO', 'Input/output error', { cause: err });
      }
      if (next.done) this.#ended = true;
      else {
        const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
        this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
      }
    }
  }

  read(position: number, length: number, headroom = 0, into?: Buffer): Promise<Buffer> {
    const run = this.#queue.then(() => this.#readAt(position, length, headroom, into));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #readAt(position: number, length: number, headroom: number, into?: Buffer): Promise<Buffer> {
    if (!this.#reader || position < this.#cursor) await this.#start();
    // Forward: decrypt and discard up to the offset asked for.
    while (this.#cursor + this.#pending.length < position && !this.#ended) {
      this.#cursor += this.#pending.length;
      this.#pending = Buffer.alloc(0);
      await this.#fill(Math.min(READ_CHUNK, position - this.#cursor));
    }
    const skip = Math.min(position - this.#cursor, this.#pending.length);
    this.#pending = this.#pending.subarray(skip);
    this.#cursor += skip;
    await this.#fill(length);
    const n = Math.min(length, this.#pending.length);
    const out =
      into && into.length >= headroom + n ? into.subarray(0, headroom + n) : Buffer.alloc(headroom + n);
    this.#pending.copy(out, headroom, 0, n);
    this.#pending = this.#pending.subarray(n);
    this.#cursor += n;
    return out;
  }

  async stat(): Promise<FsStat> {
    const stat = await this.#inner.stat();
    return this.#plainSize === undefined ? stat : withFields(stat, { size: this.#plainSize });
  }

  write(): Promise<void> {
    return Promise.reject(new UnsupportedError('A file decrypted on download is read-only'));
  }

  truncate(): Promise<void> {
    return Promise.reject(new UnsupportedError('A file decrypted on download is read-only'));
  }

  chmod(mode: number): Promise<void> {
    return this.#inner.chmod(mode);
  }

  utimes(atime: number, mtime: number): Promise<void> {
    return this.#inner.utimes(atime, mtime);
  }

  sync(): Promise<void> {
    return this.#inner.sync();
  }

  async close(): Promise<void> {
    await this.#reader?.cancel().catch(() => undefined);
    await this.#inner.close();
  }
}

/** The decryption a DecryptingFile runs, with the folder's keys. */
export function decryptWith(keys: readonly Secret<string>[]): Decrypt {
  return async (input) => {
    const { decryptStream } = await import('../../keys/pgp-stream-crypt.js');
    return decryptStream(input, { decryptionKeys: keys });
  };
}
