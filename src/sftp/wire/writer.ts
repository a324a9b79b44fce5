// SFTP packet writer and the reply encoders: one builder for the client's requests and the server's replies.
import { ATTR, FXP, SFTP_VERSION, type StatusCode } from './constants.js';
import type { Attrs, NameEntry } from './reader.js';

/** A uint64 at `at` (big-endian; a negative or fractional number as its truncated non-negative part). */
function putUint64(buffer: Buffer, value: number, at: number): void {
  const v = Math.max(0, Math.trunc(value));
  buffer.writeUInt32BE(Math.floor(v / 0x100000000) >>> 0, at);
  buffer.writeUInt32BE(v % 0x100000000, at + 4);
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
    putUint64(this.#buf, value, this.#pos);
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

/** Bytes in front of a WRITE request's data for `handle`: length, type, id, the handle string, offset, data length. */
export function writeHeaderLength(handle: Buffer): number {
  return 4 + 1 + 4 + 4 + handle.length + 8 + 4;
}

/**
 * A WRITE request built in place, as encodeDataInPlace builds DATA: `packet` holds writeHeaderLength(handle) spare
 * bytes and then the data, and the header is written into them (the client's upload reads its file there).
 */
export function encodeWriteInPlace(id: number, handle: Buffer, offset: number, packet: Buffer): Buffer {
  const header = writeHeaderLength(handle);
  if (packet.length < header) throw new RangeError(`a WRITE request needs ${header} bytes of headroom`);
  packet.writeUInt32BE(packet.length - 4, 0);
  packet[4] = FXP.WRITE;
  packet.writeUInt32BE(id, 5);
  packet.writeUInt32BE(handle.length, 9);
  handle.copy(packet, 13);
  const at = 13 + handle.length;
  putUint64(packet, offset, at);
  packet.writeUInt32BE(packet.length - header, at + 8);
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
