// SFTP packet framing for channel data handed over in memory that is read into again (util/socket-reads.ts): every
// byte is copied out before push() returns. A large WRITE's data goes straight into a buffer its consumer lends and
// gets back once the write settled, so it is copied once, as the slicing framer's WRITE staging did.
import type { ProtocolError } from '../../errors.js';
import { FXP } from './constants.js';
import { type FramedPacket, packetLengthError } from './framer.js';

/** Where a large WRITE's data is copied. */
export interface BulkWrites {
  /** WRITEs with at least this much data get a lent buffer; smaller ones are copied with their packet. */
  readonly minBytes: number;
  /** A buffer of at least `length` bytes that no one else uses until it is given back. */
  lend(length: number): Buffer;
}

/** A WRITE's body up to its handle's length: type, id, handle length. */
const PREFIX_BYTES = 9;
/** A WRITE's fixed fields besides the handle's bytes: type, id, handle length, offset, data length. */
const WRITE_FIXED_BYTES = 1 + 4 + 4 + 8 + 4;

/**
 * Cuts channel data into SFTP packets, copying as it goes. Same packets, same order and same errors as
 * PacketFramer: a bad length is thrown by nextPacket() once the packets before it were taken.
 */
export class CopyingPacketFramer {
  readonly #maxPacketLength: number;
  readonly #bulk: BulkWrites;
  readonly #ready: FramedPacket[] = [];
  #failure: ProtocolError | undefined;
  #buffered = 0;
  #length = 0;
  #lengthBytes = 0;
  readonly #prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  #prefixFilled = 0;
  /** The packet's destinations, filled in order: [body], or a large WRITE's [fields, data]. */
  #parts: Buffer[] | undefined;
  #part = 0;
  #filled = 0;

  constructor(maxPacketLength: number, bulk: BulkWrites) {
    this.#maxPacketLength = maxPacketLength;
    this.#bulk = bulk;
  }

  /** Bytes received but not yet returned as packets. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(data: Buffer): void {
    if (this.#failure) return;
    this.#buffered += data.length;
    let at = 0;
    while (at < data.length) {
      if (this.#lengthBytes < 4) {
        while (this.#lengthBytes < 4 && at < data.length) {
          this.#length = this.#length * 256 + data[at++]!;
          this.#lengthBytes++;
        }
        if (this.#lengthBytes < 4) return;
        this.#failure = packetLengthError(this.#length, this.#maxPacketLength);
        if (this.#failure) return;
        this.#prefixFilled = 0;
        this.#parts = undefined;
        continue;
      }
      if (this.#parts === undefined) {
        const want = Math.min(this.#length, PREFIX_BYTES);
        const n = Math.min(want - this.#prefixFilled, data.length - at);
        data.copy(this.#prefix, this.#prefixFilled, at, at + n);
        at += n;
        this.#prefixFilled += n;
        if (this.#prefixFilled < want) return;
        this.#parts = this.#layout();
        this.#prefix.copy(this.#parts[0]!, 0, 0, want);
        this.#part = 0;
        this.#filled = want;
      } else {
        const part = this.#parts[this.#part]!;
        const n = Math.min(part.length - this.#filled, data.length - at);
        data.copy(part, this.#filled, at, at + n);
        at += n;
        this.#filled += n;
      }
      this.#advance();
    }
  }

  /** The next whole packet, or null until more bytes arrive. Throws ProtocolError on a bad length. */
  nextPacket(): FramedPacket | null {
    const packet = this.#ready.shift();
    if (packet !== undefined) {
      this.#buffered -= 4 + packet.length;
      return packet;
    }
    if (this.#failure) throw this.#failure;
    return null;
  }

  /** A large WRITE's data in a lent buffer of its own, anything else one buffer. */
  #layout(): Buffer[] {
    const length = this.#length;
    if (length >= PREFIX_BYTES && this.#prefix[0] === FXP.WRITE) {
      const fields = WRITE_FIXED_BYTES + this.#prefix.readUInt32BE(5);
      const dataBytes = length - fields;
      if (dataBytes >= this.#bulk.minBytes) {
        return [Buffer.allocUnsafe(fields), this.#bulk.lend(dataBytes).subarray(0, dataBytes)];
      }
    }
    return [Buffer.allocUnsafe(length)];
  }

  /** Moves to the next part when this one is full, and hands the packet out when the last one is. */
  #advance(): void {
    const parts = this.#parts!;
    while (this.#filled === parts[this.#part]!.length) {
      if (this.#part === parts.length - 1) {
        this.#ready.push({ length: this.#length, head: parts[0]!, tail: parts.slice(1) });
        this.#length = 0;
        this.#lengthBytes = 0;
        this.#parts = undefined;
        return;
      }
      this.#part++;
      this.#filled = 0;
    }
  }
}
