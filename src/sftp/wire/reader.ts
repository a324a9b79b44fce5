// Bounds-checked SFTP packet reader and the ATTRS record: one parser for the server's requests and the client's replies.
import { ProtocolError } from '../../errors.js';
import { ATTR } from './constants.js';
import type { FramedPacket } from './framer.js';

/** SFTP ATTRS; a field is on the wire when it is defined (uid+gid and atime+mtime travel in pairs). */
export interface Attrs {
  size?: number;
  uid?: number;
  gid?: number;
  permissions?: number;
  atime?: number;
  mtime?: number;
  extended?: Array<readonly [type: string, data: Buffer]>;
}

export interface NameEntry {
  filename: string;
  longname: string;
  attrs: Attrs;
}

/**
 * Reads one packet; every overrun throws a ProtocolError so a malformed packet ends only its session.
 * A packet framed as head + tail is read from its head; the first read running past the head copies
 * the packet together once, except stringChunks(), which hands out slices.
 */
export class PacketReader {
  #buf: Buffer;
  #tail: readonly Buffer[];
  readonly #length: number;
  #pos = 0;

  constructor(packet: Buffer | FramedPacket) {
    if (Buffer.isBuffer(packet)) {
      this.#buf = packet;
      this.#tail = [];
      this.#length = packet.length;
    } else {
      this.#buf = packet.head;
      this.#tail = packet.tail;
      this.#length = packet.length;
    }
  }

  get remaining(): number {
    return this.#length - this.#pos;
  }

  #need(n: number, what: string): void {
    if (this.#length - this.#pos < n) {
      throw new ProtocolError(`truncated SFTP packet: ${what} needs ${n} bytes, ${this.remaining} left`);
    }
    if (this.#buf.length - this.#pos < n) {
      this.#buf = Buffer.concat([this.#buf, ...this.#tail], this.#length);
      this.#tail = [];
    }
  }

  uint8(): number {
    this.#need(1, 'byte');
    return this.#buf[this.#pos++]!;
  }

  uint32(): number {
    this.#need(4, 'uint32');
    const value = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return value;
  }

  /** uint64 as a number; values beyond 2^53 saturate (no file or offset is that large). */
  uint64(): number {
    this.#need(8, 'uint64');
    const high = this.#buf.readUInt32BE(this.#pos);
    const low = this.#buf.readUInt32BE(this.#pos + 4);
    this.#pos += 8;
    if (high >= 0x200000) return Number.MAX_SAFE_INTEGER;
    return high * 0x100000000 + low;
  }

  /** A length-prefixed byte string, sliced (not copied) from the packet. */
  string(): Buffer {
    const length = this.uint32();
    this.#need(length, 'string');
    const value = this.#buf.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return value;
  }

  /** A length-prefixed byte string as slices of the chunks it arrived in: never copied (WRITE data). */
  stringChunks(): readonly Buffer[] {
    const length = this.uint32();
    if (this.#length - this.#pos < length) {
      throw new ProtocolError(`truncated SFTP packet: string needs ${length} bytes, ${this.remaining} left`);
    }
    const start = this.#pos;
    const end = start + length;
    this.#pos = end;
    const headLength = this.#buf.length;
    if (end <= headLength) return [this.#buf.subarray(start, end)];
    const slices: Buffer[] = [];
    if (start < headLength) slices.push(this.#buf.subarray(start));
    let base = headLength;
    for (const chunk of this.#tail) {
      if (base >= end) break;
      const from = Math.max(start - base, 0);
      const to = Math.min(end - base, chunk.length);
      if (to > from) slices.push(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
      base += chunk.length;
    }
    return slices;
  }

  /** `n` raw bytes, sliced from the packet. */
  bytes(n: number): Buffer {
    this.#need(n, 'bytes');
    const value = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return value;
  }

  /** Everything left in the packet, sliced (check-file hashes run to its end). */
  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  utf8(): string {
    return this.string().toString('utf8');
  }

  attrs(): Attrs {
    const flags = this.uint32();
    const attrs: Attrs = {};
    if (flags & ATTR.SIZE) attrs.size = this.uint64();
    if (flags & ATTR.UIDGID) {
      attrs.uid = this.uint32();
      attrs.gid = this.uint32();
    }
    if (flags & ATTR.PERMISSIONS) attrs.permissions = this.uint32();
    if (flags & ATTR.ACMODTIME) {
      attrs.atime = this.uint32();
      attrs.mtime = this.uint32();
    }
    if (flags & ATTR.EXTENDED) {
      const count = this.uint32();
      // Each pair takes at least 8 bytes: refuse an impossible count before looping on it.
      if (count * 8 > this.remaining) throw new ProtocolError(`ATTRS claim ${count} extended pairs`);
      const extended: Array<readonly [string, Buffer]> = [];
      for (let i = 0; i < count; i++) extended.push([this.utf8(), this.string()]);
      attrs.extended = extended;
    }
    return attrs;
  }
}
