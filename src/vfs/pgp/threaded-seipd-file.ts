// An encrypt-folder upload whose message is hashed, encrypted and written on a thread of its own
// (native/aead/src/seipd.c): the event loop's thread only copies the plaintext into the thread's ring.
import { toFerryError, UnsupportedError } from '../../errors.js';
// Not keys/pgp-seipd-writer.ts: that one imports openpgp.js, which pgp-fs.ts would then load in every worker.
import { literalDate, type SeipdBegin, seipdPrefix } from '../../keys/pgp-seipd-parts.js';
import { aeadWith } from '../../util/aead-addon.js';
import { type ByteChunks, chunksOf } from '../../util/byte-chunks.js';
import type { FsFile } from '../types.js';
import { SEQUENTIAL_ONLY } from './encrypting-file.js';
import { SequentialUpload } from './sequential-upload.js';

/*
 * Why a thread: SHA-1 for the MDC and AES-256-CFB (serial by construction) cost the event loop's thread ~3 s/GiB
 * on top of a plain upload's ~2, so that one thread capped the upload (docs/PERFORMANCE.md). SeipdWriter, the
 * same message written on the calling thread, stays the fallback: storage without a descriptor (S3, encrypted
 * storage), an addon not built, or more messages at once than the addon runs threads for.
 */

type Handle = object;
type OnEvent = (kind: number, error: Error | null, position: number) => void;

interface SeipdAddon {
  seipdStart(
    fd: number,
    position: number,
    key: Buffer,
    prefix: Buffer,
    date: number,
    onEvent: OnEvent,
  ): Handle;
  /** Bytes of `data` copied into the ring (the rest waits for SPACE); -1 once the thread has stopped. */
  seipdPush(handle: Handle, data: Uint8Array): number;
  seipdFlush(handle: Handle): void;
  seipdFinish(handle: Handle): void;
  seipdAbort(handle: Handle): void;
  readonly seipdLimits: { readonly ringBytes: number; readonly maxThreads: number };
}

const SPACE = 1;
const FLUSHED = 2;
const DONE = 3;

/** Undefined when the addon is not built (segment-cipher.ts warns) or predates the sealing thread. */
const addon = aeadWith<SeipdAddon>('seipdStart');

/** The ring's size and the most threads at once (native/aead/src/seipd.c); undefined without the addon. */
export const sealingLimits = addon?.seipdLimits;

/**
 * The same contract as SeipdEncryptingFile: writes in order from 0 only, `stat` shows the plaintext accepted so
 * far, reads are refused, close ends the message; a failed write to disk fails the next call and close.
 */
export class ThreadedSeipdFile extends SequentialUpload implements FsFile {
  readonly #addon: SeipdAddon;
  #handle: Handle | undefined;
  #accepted = 0;
  /** Where the next write must start: accepted plus what waits in `#writes`. */
  #queuedEnd = 0;
  /** The writes in call order, each pushing after the one before it. */
  #writes: Promise<void> = Promise.resolve();
  #stopped = false;
  readonly #done: Promise<void>;
  #settleDone!: () => void;
  /** Writers waiting for room in the ring, and syncs waiting for it to empty; all are woken when the thread stops. */
  #spaceWaiters: Array<() => void> = [];
  #flushWaiters: Array<() => void> = [];

  private constructor(inner: FsFile, native: SeipdAddon) {
    super(inner);
    this.#addon = native;
    this.#done = new Promise((resolve) => {
      this.#settleDone = resolve;
    });
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
    const file = new ThreadedSeipdFile(inner, addon);
    try {
      file.#handle = addon.seipdStart(
        fd,
        begin.head.length,
        begin.sessionKey,
        fixed?.prefix ?? seipdPrefix(),
        fixed?.date ?? literalDate(),
        (kind, error) => file.#event(kind, error),
      );
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_SEIPD_BUSY') return undefined;
      throw err;
    }
    try {
      // The thread writes nothing before the first push, so the head goes first.
      await inner.write(0, begin.head);
    } catch (err) {
      await file.#stop(true);
      throw toFerryError(err);
    }
    return file;
  }

  get plaintextSize(): number {
    return this.#accepted;
  }

  protected override get nextPosition(): number {
    return this.#queuedEnd;
  }

  #event(kind: number, error: Error | null): void {
    if (kind === DONE) {
      this.#stopped = true;
      if (error) this.failure ??= toFerryError(error);
      this.#settleDone();
    }
    if (kind === SPACE || kind === DONE) this.#wake('space');
    if (kind === FLUSHED || kind === DONE) this.#wake('flush');
  }

  #wake(which: 'space' | 'flush'): void {
    const waiters = which === 'space' ? this.#spaceWaiters : this.#flushWaiters;
    if (which === 'space') this.#spaceWaiters = [];
    else this.#flushWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Ends the thread (finishing the message, or abandoning it) and waits until it no longer uses the file. */
  async #stop(abort: boolean): Promise<void> {
    if (this.#handle && !this.#stopped) {
      if (abort) this.#addon.seipdAbort(this.#handle);
      else this.#addon.seipdFinish(this.#handle);
    }
    await this.#done;
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
    const handle = this.#handle!;
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; ) {
        const taken = this.#addon.seipdPush(handle, at === 0 ? chunk : chunk.subarray(at));
        if (taken < 0) {
          // Stopped on its own: a write to disk failed (its report says which).
          await this.#done;
          throw this.failure ?? this.fail(new UnsupportedError('the message was ended'));
        }
        at += taken;
        this.#accepted += taken;
        if (at < chunk.length) await new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
      }
    }
  }

  /** What was accepted is on disk, except the parts still filling (as SeipdEncryptingFile). */
  async sync(): Promise<void> {
    await this.#writes;
    if (this.failure) throw this.failure;
    if (!this.#stopped) {
      const flushed = new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
      this.#addon.seipdFlush(this.#handle!);
      await flushed;
    }
    if (this.failure) throw this.failure;
    await this.inner.sync();
  }

  protected async end(): Promise<void> {
    await this.#writes;
    await this.#stop(this.failure !== undefined);
  }
}
