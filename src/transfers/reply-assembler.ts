// The client's SFTP framing when channel data is handed over in buffers that are read into again (socket-reads.ts):
// each reply is copied out as it arrives, a large one (a READ's DATA) into a pooled buffer that its consumer gives
// back once the bytes are written, so a download allocates a few buffers instead of one per socket read.
import { packetLengthError } from '../sftp/wire/framer.js';

/** Replies up to this size get a buffer of their own (Node's 8 KiB slab serves those under 4 KiB). */
const SMALL_REPLY_BYTES = 4096;
/**
 * Free buffers kept per session: a download has about two windows (2 MiB each) of replies between the wire and the
 * file at once, and more than that is memory held for nothing.
 */
const MAX_FREE_BUFFERS = 24;

/** Buffers for large replies, reused once their consumer says it is done with them. */
export class ReplyBuffers {
  readonly #size: number;
  readonly #free: Buffer[] = [];
  /**
   * The buffers handed out and not given back, by their memory (a view of one names it): one never given back
   * is collected as any buffer is, since the map holds its memory weakly.
   */
  readonly #out = new WeakMap<ArrayBufferLike, Buffer>();
  #allocated = 0;

  /** `size`: the largest reply that is pooled (a DATA of the largest READ); larger ones are allocated each. */
  constructor(size: number) {
    this.#size = size;
  }

  /** Pooled buffers allocated so far (tests: reuse keeps this at a handful per download). */
  get allocated(): number {
    return this.#allocated;
  }

  /** A buffer of exactly `length` bytes. */
  take(length: number): Buffer {
    if (length > this.#size) return Buffer.allocUnsafe(length);
    let whole = this.#free.pop();
    if (whole === undefined) {
      // Its own memory, not a slice of Node's slab: a view of it must name this buffer alone.
      whole = Buffer.allocUnsafeSlow(this.#size);
      this.#allocated++;
    }
    this.#out.set(whole.buffer, whole);
    return whole.subarray(0, length);
  }

  /**
   * Gives back the buffers under `views` (slices of replies this pool filled; others are ignored, as is a second
   * release). The caller must hold no view of them any more: the next reply is copied into them.
   */
  release(views: readonly Buffer[]): void {
    for (const view of views) {
      const whole = this.#out.get(view.buffer);
      if (whole === undefined) continue;
      this.#out.delete(view.buffer);
      if (this.#free.length < MAX_FREE_BUFFERS) this.#free.push(whole);
    }
  }
}

/**
 * Cuts channel data into SFTP packets (uint32 length, then the body), copying every byte out of the data it is
 * given before push() returns: the caller may read into that memory again. Calls `onPacket` with each whole body.
 */
export class ReplyAssembler {
  readonly #maxPacketLength: number;
  readonly #buffers: ReplyBuffers;
  readonly #onPacket: (body: Buffer) => void;
  #length = 0;
  #lengthBytes = 0;
  #body: Buffer | undefined;
  #filled = 0;

  constructor(maxPacketLength: number, buffers: ReplyBuffers, onPacket: (body: Buffer) => void) {
    this.#maxPacketLength = maxPacketLength;
    this.#buffers = buffers;
    this.#onPacket = onPacket;
  }

  /** Throws ProtocolError on a bad length (the session cannot continue after it). */
  push(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      if (this.#body === undefined) {
        while (this.#lengthBytes < 4 && at < data.length) {
          this.#length = this.#length * 256 + data[at++]!;
          this.#lengthBytes++;
        }
        if (this.#lengthBytes < 4) return;
        const length = this.#length;
        const refused = packetLengthError(length, this.#maxPacketLength);
        if (refused) throw refused;
        this.#body = length <= SMALL_REPLY_BYTES ? Buffer.allocUnsafe(length) : this.#buffers.take(length);
        this.#filled = 0;
      }
      const body = this.#body;
      const n = Math.min(body.length - this.#filled, data.length - at);
      data.copy(body, this.#filled, at, at + n);
      at += n;
      this.#filled += n;
      if (this.#filled < body.length) return;
      this.#body = undefined;
      this.#length = 0;
      this.#lengthBytes = 0;
      this.#onPacket(body);
    }
  }
}
