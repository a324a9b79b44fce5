// SFTP packet framing: cuts a byte stream (channel chunks) into whole packets, uncopied where it can.
import { ProtocolError } from '../../errors.js';

/**
 * A packet body (the bytes after the uint32 length) as the framer cut it. `head` is contiguous; `tail`
 * holds the rest as slices of the chunks received, empty when the whole packet is in `head`.
 */
export interface FramedPacket {
  readonly length: number;
  readonly head: Buffer;
  readonly tail: readonly Buffer[];
}

/** Why a packet of `length` bytes (its uint32 length field) is refused, or undefined: one rule for every framer. */
export function packetLengthError(length: number, maxPacketLength: number): ProtocolError | undefined {
  if (length === 0) return new ProtocolError('SFTP packet of length 0');
  if (length > maxPacketLength)
    return new ProtocolError(`SFTP packet of ${length} bytes exceeds the limit of ${maxPacketLength}`);
  return undefined;
}

/** The contiguous start of a packet spanning chunks: room for any fixed fields (a WRITE's take 25 bytes). */
const PACKET_HEAD_BYTES = 256;
/**
 * A packet spanning more chunks than this is copied together, as one buffer: a client sending tiny channel
 * packets would otherwise make a WRITE a list of thousands of slices (one iovec each). ssh2 delivers
 * 32 KiB chunks, so a 255 KiB WRITE spans 9.
 */
const MAX_PACKET_PIECES = 64;

/**
 * Turns channel chunks into whole packets. Chunks are kept in a list; a packet inside one chunk is a
 * zero-copy slice, and one spanning chunks stays a list of slices (only a straddled head is copied), so
 * WRITE data reaches the file without a reassembly copy.
 */
export class PacketFramer {
  readonly #maxPacketLength: number;
  readonly #chunks: Buffer[] = [];
  /** Read position inside #chunks[0]. */
  #head = 0;
  #buffered = 0;

  constructor(maxPacketLength: number) {
    this.#maxPacketLength = maxPacketLength;
  }

  /** Bytes received but not yet returned as packets. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next whole packet as one buffer (copied together when it spans chunks), or null until more bytes arrive. */
  next(): Buffer | null {
    const packet = this.nextPacket();
    if (packet === null || packet.tail.length === 0) return packet?.head ?? null;
    return Buffer.concat([packet.head, ...packet.tail], packet.length);
  }

  /** The next whole packet, uncopied, or null until more bytes arrive. Throws ProtocolError on a bad length. */
  nextPacket(): FramedPacket | null {
    if (this.#buffered < 4) return null;
    const length = this.#peekUint32();
    const refused = packetLengthError(length, this.#maxPacketLength);
    if (refused) throw refused;
    if (this.#buffered < 4 + length) return null;
    this.#skip(4);
    const inFirst = this.#chunks[0]!.length - this.#head;
    if (inFirst >= length) return { length, head: this.#slices(length)[0]!, tail: [] };
    if (this.#spansMoreThan(length, MAX_PACKET_PIECES)) return { length, head: this.#copy(length), tail: [] };
    const head =
      inFirst >= PACKET_HEAD_BYTES
        ? this.#slices(inFirst)[0]!
        : this.#copy(Math.min(length, PACKET_HEAD_BYTES));
    return { length, head, tail: head.length < length ? this.#slices(length - head.length) : [] };
  }

  #peekUint32(): number {
    const first = this.#chunks[0]!;
    if (first.length - this.#head >= 4) return first.readUInt32BE(this.#head);
    let value = 0;
    let chunkIndex = 0;
    let offset = this.#head;
    for (let i = 0; i < 4; i++) {
      let chunk = this.#chunks[chunkIndex]!;
      while (offset >= chunk.length) {
        chunkIndex++;
        offset = 0;
        chunk = this.#chunks[chunkIndex]!;
      }
      value = value * 256 + chunk[offset]!;
      offset++;
    }
    return value;
  }

  /** Whether the next `n` buffered bytes lie in more than `pieces` chunks. */
  #spansMoreThan(n: number, pieces: number): boolean {
    let covered = -this.#head;
    for (let i = 0; i < this.#chunks.length && i <= pieces; i++) {
      covered += this.#chunks[i]!.length;
      if (covered >= n) return i >= pieces;
    }
    return true;
  }

  #skip(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.#chunks[0]!;
      const available = first.length - this.#head;
      if (available > left) {
        this.#head += left;
        break;
      }
      left -= available;
      this.#chunks.shift();
      this.#head = 0;
    }
    this.#buffered -= n;
  }

  /** The next `n` bytes as slices of the chunks (a chunk used whole is passed on as it is). */
  #slices(n: number): Buffer[] {
    const slices: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const chunk = this.#chunks[0]!;
      const count = Math.min(chunk.length - this.#head, left);
      slices.push(count === chunk.length ? chunk : chunk.subarray(this.#head, this.#head + count));
      left -= count;
      this.#skip(count);
    }
    return slices;
  }

  /** The next `n` bytes copied into one buffer. */
  #copy(n: number): Buffer {
    const packet = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const chunk = this.#chunks[0]!;
      const count = Math.min(chunk.length - this.#head, n - written);
      chunk.copy(packet, written, this.#head, this.#head + count);
      written += count;
      this.#skip(count);
    }
    return packet;
  }
}
