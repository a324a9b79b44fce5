// An encrypt-folder upload whose message is hashed, encrypted and written on a thread of its own
// (native/aead/src/seipd.c): the event loop's thread only copies the plaintext into the thread's ring.
import { toFerryError, UnsupportedError } from '../../errors.js';
// Not keys/pgp-seipd-writer.ts: that one imports openpgp.js, which pgp-fs.ts would then load in every worker.
import { literalDate, type SeipdBegin, seipdPrefix } from '../../keys/pgp-seipd-parts.js';
import { type ByteChunks, chunksOf } from '../../util/byte-chunks.js';
import { type RingEvent, RingFeeder, type RingHandle, ringAddon } from '../../util/ring-feeder.js';
import type { FsFile } from '../types.js';
import { SEQUENTIAL_ONLY } from './encrypting-file.js';
import { SequentialUpload } from './sequential-upload.js';

/*
 * Why a thread: SHA-1 for the MDC and AES-256-CFB (serial by construction) cost the event loop's thread ~3 s/GiB
 * on top of a plain upload's ~2, so that one thread capped the upload (docs/PERFORMANCE.md). SeipdWriter, the
 * same message written on the calling thread, stays the fallback: storage without a descriptor (S3, encrypted
 * storage), an addon not built, or more messages at once than the addon runs threads for.
 */

interface SeipdAddon {
  seipdStart(
    fd: number,
    position: number,
    key: Buffer,
    prefix: Buffer,
    date: number,
    onEvent: RingEvent,
  ): RingHandle;
  readonly seipdLimits: { readonly ringBytes: number; readonly maxThreads: number };
}

/** Undefined when the addon is not built (segment-cipher.ts warns) or predates the sealing thread. */
const addon = ringAddon<SeipdAddon>('seipdStart');

/** The ring's size and the most threads at once (native/aead/src/seipd.c); undefined without the addon. */
export const sealingLimits = addon?.seipdLimits;

/**
 * The same contract as SeipdEncryptingFile: writes in order from 0 only, `stat` shows the plaintext accepted so
 * far, reads are refused, close ends the message; a failed write to disk fails the next call and close.
 */
export class ThreadedSeipdFile extends SequentialUpload implements FsFile {
  readonly #ring: RingFeeder;
  #accepted = 0;
  /** Where the next write must start: accepted plus what waits in `#writes`. */
  #queuedEnd = 0;
  /** The writes in call order, each pushing after the one before it. */
  #writes: Promise<void> = Promise.resolve();

  private constructor(inner: FsFile, ring: RingFeeder) {
    super(inner);
    this.#ring = ring;
  }

  /**
   * Starts the message in `inner` (an empty local file opened for writing): its session key packets, then the
   * thread that writes the rest behind them. Undefined when this file cannot have one (no descriptor, addon not
   * built, every thread busy): the caller writes the message on its own thread instead. `fixed` (tests only)
   * sets the random prefix and the date, to compare the bytes with SeipdWriter's.
   */
  static async start(
    inner: FsFile,
    begin: SeipdBegin,
    fixed?: { readonly prefix: Buffer; readonly date: number },
  ): Promise<ThreadedSeipdFile | undefined> {
    const fd = inner.descriptor;
    if (addon === undefined || fd === undefined) return undefined;
    let ring: RingFeeder;
    try {
      ring = new RingFeeder((onEvent) =>
        addon.seipdStart(
          fd,
          begin.head.length,
          begin.sessionKey,
          fixed?.prefix ?? seipdPrefix(),
          fixed?.date ?? literalDate(),
          onEvent,
        ),
      );
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_SEIPD_BUSY') return undefined;
      throw err;
    }
    try {
      // The thread writes nothing before the first push, so the head goes first.
      await inner.write(0, begin.head);
    } catch (err) {
      await ring.stop(true);
      throw toFerryError(err);
    }
    return new ThreadedSeipdFile(inner, ring);
  }

  get plaintextSize(): number {
    return this.#accepted;
  }

  protected override get nextPosition(): number {
    return this.#queuedEnd;
  }

  /** The thread's own failure (a write to disk), kept as the file's. */
  #threadFailure(): Error | undefined {
    if (this.#ring.error) this.failure ??= toFerryError(this.#ring.error);
    return this.failure;
  }

  /**
   * Pipelined clients send the next write before this one is done (it waits while the ring is full): each goes
   * behind the one before it, and its position must follow what was written and queued so far.
   */
  write(position: number, data: ByteChunks): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(this.fail(new UnsupportedError('write after close')));
    if (position !== this.#queuedEnd) return Promise.reject(this.fail(new UnsupportedError(SEQUENTIAL_ONLY)));
    const chunks = chunksOf(data);
    for (const chunk of chunks) this.#queuedEnd += chunk.length;
    const write = this.#writes.then(() => this.#push(chunks));
    this.#writes = write.catch(() => undefined);
    return write;
  }

  async #push(chunks: readonly Buffer[]): Promise<void> {
    if (this.failure) throw this.failure;
    for (const chunk of chunks) {
      const whole = await this.#ring.push(chunk, (taken) => {
        this.#accepted += taken;
      });
      // Stopped on its own: a write to disk failed (its report says which).
      if (!whole) throw this.#threadFailure() ?? this.fail(new UnsupportedError('the message was ended'));
    }
  }

  /** What was accepted is on disk, except the parts still filling (as SeipdEncryptingFile). */
  async sync(): Promise<void> {
    await this.#writes;
    if (this.failure) throw this.failure;
    await this.#ring.flush();
    const failure = this.#threadFailure();
    if (failure) throw failure;
    await this.inner.sync();
  }

  protected async end(): Promise<void> {
    await this.#writes;
    await this.#ring.stop(this.failure !== undefined);
    this.#threadFailure();
  }
}
