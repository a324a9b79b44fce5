// A file that encrypts while it is written: plaintext goes into an OpenPGP stream, only ciphertext reaches the disk.
import { ReadableStream, type ReadableStreamDefaultController } from 'node:stream/web';
import { toFerryError, UnsupportedError } from '../../errors.js';
import { type ByteChunks, chunksOf } from '../../util/byte-chunks.js';
import { withFields } from '../../util/with-fields.js';
import type { FsFile, FsStat } from '../types.js';

/** Plaintext queued for the encryptor before writers wait: a few SFTP writes' worth. */
const QUEUE_BYTES = 256 * 1024;
/**
 * Plaintext is handed to the encryptor in pieces of this size: each piece costs a trip through openpgp's stream
 * stages, so SFTP writes of 32 KiB are gathered (512 MiB measured: 6.4-8.2 s instead of 10.7 s).
 */
const PIECE_BYTES = 128 * 1024;

export const SEQUENTIAL_ONLY =
  'This folder encrypts uploads as they arrive: files are written front to back only (no resume, no writes out of order); send the file again from the start';

/**
 * Wraps the file that receives the ciphertext. Writes must come in order from 0 (the core calls them in the
 * order the client sent them); any other position fails the upload. `stat` reports the plaintext written so
 * far, so the core's size and digest bookkeeping see what the client sent. Reads are refused: the file holds
 * ciphertext, and nothing of the plaintext can be read back.
 */
export class EncryptingFile implements FsFile {
  readonly #inner: FsFile;
  #accepted = 0;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Resolved each time the encryptor pulls, so writers waiting for room go on. */
  #room: (() => void) | undefined;
  readonly #pump: Promise<void>;
  #failure: Error | undefined;
  #closed = false;
  /** The piece being filled (a copy: the caller may reuse its buffers once a write returns). */
  #piece: Buffer = Buffer.allocUnsafe(PIECE_BYTES);
  #pieceLength = 0;

  private constructor(
    inner: FsFile,
    encrypt: (plain: ReadableStream<Uint8Array>) => Promise<ReadableStream<Uint8Array>>,
  ) {
    this.#inner = inner;
    const plain = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          this.#room?.();
          this.#room = undefined;
        },
      },
      { highWaterMark: QUEUE_BYTES, size: (chunk) => chunk.byteLength },
    );
    this.#pump = this.#run(encrypt(plain));
    // Failures surface through write/close; this only keeps an early one from being unhandled.
    this.#pump.catch(() => undefined);
  }

  /** Opens the encryption over `inner` (an empty file opened for writing). */
  static start(
    inner: FsFile,
    encrypt: (plain: ReadableStream<Uint8Array>) => Promise<ReadableStream<Uint8Array>>,
  ): EncryptingFile {
    return new EncryptingFile(inner, encrypt);
  }

  /** Plaintext bytes accepted so far (all of them once closed). */
  get plaintextSize(): number {
    return this.#accepted;
  }

  get resolvedPath(): string | null | undefined {
    return this.#inner.resolvedPath;
  }

  /** Writes the ciphertext, in order, as the encryptor produces it. */
  async #run(output: Promise<ReadableStream<Uint8Array>>): Promise<void> {
    let position = 0;
    try {
      const reader = (await output).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const data = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        await this.#inner.write(position, data);
        position += data.length;
      }
    } catch (err) {
      this.#fail(toFerryError(err));
      throw this.#failure;
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#room?.();
    this.#room = undefined;
    try {
      this.#controller.error(err);
    } catch {
      // Already closed or errored: the first failure stands.
    }
  }

  async write(position: number, data: ByteChunks): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (position !== this.#accepted) {
      const err = new UnsupportedError(SEQUENTIAL_ONLY);
      this.#fail(err);
      throw err;
    }
    for (const chunk of chunksOf(data)) {
      for (let at = 0; at < chunk.length; ) {
        const n = chunk.copy(this.#piece, this.#pieceLength, at);
        this.#pieceLength += n;
        at += n;
        if (this.#pieceLength === PIECE_BYTES) this.#hand();
      }
      this.#accepted += chunk.length;
    }
    while ((this.#controller.desiredSize ?? 0) <= 0 && !this.#failure) {
      await new Promise<void>((resolve) => {
        const previous = this.#room;
        this.#room = () => {
          previous?.();
          resolve();
        };
      });
    }
    if (this.#failure) throw this.#failure;
  }

  /** Gives the filled part of the piece to the encryptor and starts a new one. */
  #hand(): void {
    if (this.#pieceLength === 0) return;
    this.#controller.enqueue(this.#piece.subarray(0, this.#pieceLength));
    this.#piece = Buffer.allocUnsafe(PIECE_BYTES);
    this.#pieceLength = 0;
  }

  async stat(): Promise<FsStat> {
    return withFields(await this.#inner.stat(), { size: this.#accepted });
  }

  read(): Promise<Buffer> {
    return Promise.reject(new UnsupportedError('An upload being encrypted cannot be read back'));
  }

  async truncate(size: number): Promise<void> {
    // Clients that truncate to where they are (0 before writing) change nothing; anything else would need the plaintext.
    if (size !== this.#accepted) throw new UnsupportedError(SEQUENTIAL_ONLY);
  }

  chmod(mode: number): Promise<void> {
    return this.#inner.chmod(mode);
  }

  utimes(atime: number, mtime: number): Promise<void> {
    return this.#inner.utimes(atime, mtime);
  }

  /** Only what the encryptor has written so far can be synced; the rest follows at close. */
  sync(): Promise<void> {
    return this.#inner.sync();
  }

  /** Ends the message (the last packets and the MDC) and closes the ciphertext file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (!this.#failure) {
        this.#hand();
        this.#controller.close();
      }
      await this.#pump;
    } finally {
      await this.#inner.close();
    }
  }
}
