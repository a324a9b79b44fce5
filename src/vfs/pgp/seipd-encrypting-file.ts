// An encrypt-folder upload without signature or armor: each write is encrypted on the spot (SeipdWriter) and
// the ciphertext written behind it, with no stream stages in between.
import { toFerryError, UnsupportedError } from '../../errors.js';
import type { SeipdWriter } from '../../keys/pgp-seipd-writer.js';
import { type ByteChunks, chunksOf } from '../../util/byte-chunks.js';
import type { FsFile } from '../types.js';
import { SEQUENTIAL_ONLY } from './encrypting-file.js';
import { SequentialUpload } from './sequential-upload.js';

/** Ciphertext writes on their way to disk before a writer waits: bounds memory when the disk is slower. */
const MAX_INFLIGHT_WRITES = 8;

/**
 * The same contract as EncryptingFile: writes in order from 0 only, `stat` shows the plaintext accepted so far,
 * reads are refused, close ends the message. A failed write to disk fails the next call and close.
 */
export class SeipdEncryptingFile extends SequentialUpload implements FsFile {
  readonly #writer: SeipdWriter;
  #accepted = 0;
  /** Where the next ciphertext goes in the stored file. */
  #position: number;
  readonly #inflight = new Set<Promise<void>>();

  private constructor(inner: FsFile, writer: SeipdWriter, headLength: number) {
    super(inner);
    this.#writer = writer;
    this.#position = headLength;
  }

  /** Starts the message in `inner` (an empty file opened for writing) with its session key packets. */
  static async start(
    inner: FsFile,
    start: { head: Buffer; writer: SeipdWriter },
  ): Promise<SeipdEncryptingFile> {
    await inner.write(0, start.head);
    return new SeipdEncryptingFile(inner, start.writer, start.head.length);
  }

  get plaintextSize(): number {
    return this.#accepted;
  }

  /** Writes ciphertext behind what is already queued (the inner file keeps call order). */
  #emit(pieces: Buffer[]): void {
    if (pieces.length === 0) return;
    const write: Promise<void> = this.inner.write(this.#position, pieces).then(
      () => {
        this.#inflight.delete(write);
      },
      (err: unknown) => {
        this.#inflight.delete(write);
        this.fail(toFerryError(err));
      },
    );
    this.#inflight.add(write);
    for (const piece of pieces) this.#position += piece.length;
  }

  async write(position: number, data: ByteChunks): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw this.fail(new UnsupportedError('write after close'));
    if (position !== this.#accepted) throw this.fail(new UnsupportedError(SEQUENTIAL_ONLY));
    for (const chunk of chunksOf(data)) {
      this.#emit(this.#writer.push(chunk));
      this.#accepted += chunk.length;
    }
    while (this.#inflight.size >= MAX_INFLIGHT_WRITES) await Promise.race(this.#inflight);
    if (this.failure) throw this.failure;
  }

  async sync(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
    if (this.failure) throw this.failure;
    await this.inner.sync();
  }

  protected async end(): Promise<void> {
    if (!this.failure) this.#emit(this.#writer.finish());
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
  }
}
