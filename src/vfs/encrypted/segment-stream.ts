// A container written front to back by a thread of its own (native/aead/src/segseal.c): the event loop's thread
// copies plaintext into the thread's ring, the thread seals it into segments and writes them.
import { toFerryError } from '../../errors.js';
import { aeadWith } from '../../util/aead-addon.js';
import { type RingEvent, RingFeeder, type RingHandle, ringAddon } from '../../util/ring-feeder.js';
import type { ContainerKeys } from './container.js';
import { CIPHER_IDS } from './segment-cipher.js';

/*
 * Why a thread: sealing each segment on the event loop's thread and dispatching its write cost that thread
 * ~0.6 s/GiB on top of a plain upload's, and that thread limits a single upload (docs/PERFORMANCE.md). Only for
 * local files (a descriptor) and while the writes go on at the end of the file; EncryptedFile's own write-back
 * stays the path for everything else (random writes, storage without a descriptor, the addon not built, or more
 * streams at once than the addon runs threads for).
 */

interface StreamAddon {
  segmentStreamStart(
    fd: number,
    index: number,
    key: Buffer,
    fileId: Buffer,
    cipher: number,
    onEvent: RingEvent,
  ): RingHandle;
  readonly segmentStreamLimits: { readonly ringBytes: number; readonly maxThreads: number };
}

// Built with the cipher argument (readOpenMany came with it): an older build's thread would refuse the call.
const addon = aeadWith('readOpenMany') ? ringAddon<StreamAddon>('segmentStreamStart') : undefined;

/** The ring's size and the most threads at once; undefined without the addon (or one built before it). */
export const segmentStreamLimits = addon?.segmentStreamLimits;

/**
 * Plaintext appended to a container from the start of segment `index` on (its final segment): `push` takes the
 * bytes in order, `flush` puts all of them on disk (the last segment sealed as final, so the file is whole), `end`
 * does the same and stops the thread. A failed write (as node:fs reports it) fails that call and every later one.
 */
export class SegmentStream {
  readonly #ring: RingFeeder;

  private constructor(ring: RingFeeder) {
    this.#ring = ring;
  }

  /** A stream into local file `fd`, or undefined when there can be none (addon not built, every thread busy). */
  static start(fd: number, index: number, keys: ContainerKeys): SegmentStream | undefined {
    const native = addon;
    if (native === undefined) return undefined;
    try {
      return new SegmentStream(
        new RingFeeder((onEvent) =>
          native.segmentStreamStart(fd, index, keys.dataKey, keys.fileId, CIPHER_IDS[keys.cipher], onEvent),
        ),
      );
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_SEGMENT_STREAM_BUSY') return undefined;
      throw err;
    }
  }

  #failure(): Error {
    return toFerryError(this.#ring.error ?? new Error('the encrypted file stream ended'));
  }

  /** Appends `chunk` (copied); waits while the ring is full. */
  async push(chunk: Uint8Array): Promise<void> {
    if (!(await this.#ring.push(chunk))) throw this.#failure();
  }

  async flush(): Promise<void> {
    await this.#ring.flush();
    if (this.#ring.stopped) throw this.#failure();
  }

  /** Everything pushed on disk and the thread gone (or, with `abort`, the thread gone and the file as it is). */
  async end(abort = false): Promise<void> {
    await this.#ring.stop(abort);
    if (this.#ring.error && !abort) throw this.#failure();
  }
}

/**
 * An open file's appends through a stream: at most one in the file's life (a file written out of order does not
 * start and stop threads), ended before anything else touches the file. A stream's failure goes through
 * `failed`, which makes it the file's.
 */
export class FileAppends {
  #stream: SegmentStream | undefined;
  #tried = false;
  #ending: Promise<void> | undefined;
  readonly #failed: (err: unknown) => Error;

  constructor(failed: (err: unknown) => Error) {
    this.#failed = failed;
  }

  get active(): boolean {
    return this.#stream !== undefined;
  }

  /** Whether a stream may still be started: none was tried yet. */
  get untried(): boolean {
    return !this.#tried;
  }

  /** Starts the stream from segment `index`; false when the file cannot have one. */
  start(fd: number, index: number, keys: ContainerKeys): boolean {
    this.#tried = true;
    this.#stream = SegmentStream.start(fd, index, keys);
    return this.#stream !== undefined;
  }

  push(chunk: Uint8Array): Promise<void> {
    return this.#run((stream) => stream.push(chunk));
  }

  flush(): Promise<void> {
    return this.#run((stream) => stream.flush());
  }

  /** Ends the stream, everything on disk; true when there was one (callers at once share the ending). */
  async end(): Promise<boolean> {
    if (!this.#stream) return false;
    this.#ending ??= this.#run((stream) => stream.end()).finally(() => {
      this.#stream = undefined;
      this.#ending = undefined;
    });
    await this.#ending;
    return true;
  }

  /** Stops a stream left by a failure, before its file's descriptor closes (the number is reused by the next open). */
  async abort(): Promise<void> {
    await this.#stream?.end(true);
    this.#stream = undefined;
  }

  async #run(op: (stream: SegmentStream) => Promise<void>): Promise<void> {
    try {
      await op(this.#stream!);
    } catch (err) {
      throw this.#failed(err);
    }
  }
}
