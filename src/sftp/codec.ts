// SFTP wire codec: a framer that cuts channel chunks into packets, a bounds-checked reader, reply writers.
import { ProtocolError } from '../errors.js';
import { ATTR, FXP, SFTP_VERSION, type StatusCode } from './constants.js';

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
 * A packet body (the bytes after the uint32 length) as the framer cut it. `head` is contiguous; `tail`
 * holds the rest as slices of the chunks received, empty when the whole packet is in `head`.
 */
export interface FramedPacket {
  readonly length: number;
  readonly head: Buffer;
  readonly tail: readonly Buffer[];
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
    if (length === 0) throw new ProtocolError('SFTP packet of length 0');
    if (length > this.#maxPacketLength) {
      throw new ProtocolError(`SFTP packet of ${length} bytes exceeds the limit of ${this.#maxPacketLength}`);
    }
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

/** Builds one packet (length prefix included) in a buffer that grows by doubling. */
export class PacketWriter {
  #buf: Buffer;
  #pos = 4;

  constructor(type: number, sizeHint = 64) {
    this.#buf = Buffer.allocUnsafe(Math.max(16, sizeHint + 5));
    this.uint8(type);
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }

  uint8(value: number): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = value;
    return this;
  }

  uint32(value: number): this {
    this.#ensure(4);
    this.#buf.writeUInt32BE(value >>> 0, this.#pos);
    this.#pos += 4;
    return this;
  }

  uint64(value: number): this {
    this.#ensure(8);
    const v = Math.max(0, Math.trunc(value));
    this.#buf.writeUInt32BE(Math.floor(v / 0x100000000) >>> 0, this.#pos);
    this.#buf.writeUInt32BE(v % 0x100000000, this.#pos + 4);
    this.#pos += 8;
    return this;
  }

  string(value: string | Buffer): this {
    const length = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
    this.#ensure(4 + length);
    this.#buf.writeUInt32BE(length, this.#pos);
    this.#pos += 4;
    if (typeof value === 'string') this.#buf.write(value, this.#pos, 'utf8');
    else value.copy(this.#buf, this.#pos);
    this.#pos += length;
    return this;
  }

  /** Raw bytes with no length prefix (check-file hashes run to the end of the packet). */
  raw(value: Buffer): this {
    this.#ensure(value.length);
    value.copy(this.#buf, this.#pos);
    this.#pos += value.length;
    return this;
  }

  attrs(attrs: Attrs): this {
    let flags = 0;
    if (attrs.size !== undefined) flags |= ATTR.SIZE;
    if (attrs.uid !== undefined && attrs.gid !== undefined) flags |= ATTR.UIDGID;
    if (attrs.permissions !== undefined) flags |= ATTR.PERMISSIONS;
    if (attrs.atime !== undefined && attrs.mtime !== undefined) flags |= ATTR.ACMODTIME;
    if (attrs.extended !== undefined && attrs.extended.length > 0) flags |= ATTR.EXTENDED;
    this.uint32(flags);
    if (flags & ATTR.SIZE) this.uint64(attrs.size!);
    if (flags & ATTR.UIDGID) this.uint32(attrs.uid!).uint32(attrs.gid!);
    if (flags & ATTR.PERMISSIONS) this.uint32(attrs.permissions!);
    if (flags & ATTR.ACMODTIME) this.uint32(clampUint32(attrs.atime!)).uint32(clampUint32(attrs.mtime!));
    if (flags & ATTR.EXTENDED) {
      this.uint32(attrs.extended!.length);
      for (const [type, data] of attrs.extended!) this.string(type).string(data);
    }
    return this;
  }

  /** The finished packet: the length prefix is filled in and the buffer trimmed. */
  finish(): Buffer {
    this.#buf.writeUInt32BE(this.#pos - 4, 0);
    return this.#buf.subarray(0, this.#pos);
  }
}

function clampUint32(value: number): number {
  return Math.min(0xffffffff, Math.max(0, Math.trunc(value)));
}

export function encodeVersion(extensions: ReadonlyArray<readonly [name: string, version: string]>): Buffer {
  const writer = new PacketWriter(FXP.VERSION).uint32(SFTP_VERSION);
  for (const [name, version] of extensions) writer.string(name).string(version);
  return writer.finish();
}

export function encodeStatus(id: number, code: StatusCode, message: string): Buffer {
  return new PacketWriter(FXP.STATUS, 16 + message.length)
    .uint32(id)
    .uint32(code)
    .string(message)
    .string('en')
    .finish();
}

export function encodeHandle(id: number, handle: Buffer): Buffer {
  return new PacketWriter(FXP.HANDLE, 8 + handle.length).uint32(id).string(handle).finish();
}

/** Length, type, id and data length: the bytes before a DATA payload. */
export const DATA_HEADER_LENGTH = 13;

/**
 * A DATA reply built in place: `packet` holds DATA_HEADER_LENGTH spare bytes (the headroom a READ left)
 * and then the payload; the header is written into them, so the reply is one buffer and nothing is copied.
 */
export function encodeDataInPlace(id: number, packet: Buffer): Buffer {
  const dataLength = packet.length - DATA_HEADER_LENGTH;
  if (dataLength < 0) throw new RangeError(`a DATA reply needs ${DATA_HEADER_LENGTH} bytes of headroom`);
  packet.writeUInt32BE(packet.length - 4, 0);
  packet[4] = FXP.DATA;
  packet.writeUInt32BE(id, 5);
  packet.writeUInt32BE(dataLength, 9);
  return packet;
}

export function encodeName(id: number, entries: readonly NameEntry[]): Buffer {
  const writer = new PacketWriter(FXP.NAME, 8 + entries.length * 96).uint32(id).uint32(entries.length);
  for (const entry of entries) writer.string(entry.filename).string(entry.longname).attrs(entry.attrs);
  return writer.finish();
}

export function encodeAttrs(id: number, attrs: Attrs): Buffer {
  return new PacketWriter(FXP.ATTRS, 40).uint32(id).attrs(attrs).finish();
}

/** EXTENDED_REPLY: `fill` writes the extension-specific payload after the request id. */
export function encodeExtendedReply(id: number, fill: (writer: PacketWriter) => void): Buffer {
  const writer = new PacketWriter(FXP.EXTENDED_REPLY, 96).uint32(id);
  fill(writer);
  return writer.finish();
}
