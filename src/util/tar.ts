// A small streaming POSIX ustar writer and reader: regular files only, names under 100 bytes, any size.
import { once } from 'node:events';

const BLOCK = 512;
const NAME_BYTES = 100;
/** The largest size 11 octal digits hold (8 GiB - 1); larger sizes use GNU's base-256 form, which GNU and BSD tar read. */
const MAX_OCTAL_SIZE = 0o77777777777;

export class TarError extends Error {
  readonly code = 'ERR_TAR';
}

export interface TarEntryHeader {
  readonly name: string;
  readonly size: number;
  /** Permission bits, e.g. 0o600. */
  readonly mode: number;
  readonly mtime: Date;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

function encodeHeader(entry: TarEntryHeader): Buffer {
  const name = Buffer.from(entry.name, 'utf8');
  if (name.length === 0 || name.length >= NAME_BYTES) {
    throw new TarError(`tar entry name '${entry.name}' must be 1 to ${NAME_BYTES - 1} bytes`);
  }
  if (!Number.isSafeInteger(entry.size) || entry.size < 0)
    throw new TarError(`bad tar entry size ${entry.size}`);
  const block = Buffer.alloc(BLOCK);
  name.copy(block, 0);
  writeOctal(block, 100, 8, entry.mode & 0o7777);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  if (entry.size <= MAX_OCTAL_SIZE) writeOctal(block, 124, 12, entry.size);
  else {
    block[124] = 0x80;
    block.writeBigUInt64BE(BigInt(entry.size), 124 + 4);
  }
  writeOctal(block, 136, 12, Math.floor(entry.mtime.getTime() / 1000));
  block.write('0', 156, 'ascii');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

function readOctal(block: Buffer, offset: number, length: number, field: string): number {
  const raw = block.subarray(offset, offset + length);
  if (raw[0]! & 0x80) {
    let value = 0n;
    for (const byte of raw.subarray(1)) value = (value << 8n) | BigInt(byte);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarError(`tar ${field} too large`);
    return Number(value);
  }
  const text = raw
    .toString('ascii')
    .replace(/[\0 ]+$/, '')
    .trim();
  if (!/^[0-7]*$/.test(text)) throw new TarError(`tar header has a malformed ${field}`);
  return text === '' ? 0 : Number.parseInt(text, 8);
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/** Writes a tar stream to `out` with backpressure; call `finish()` to add the end-of-archive blocks. */
export class TarWriter {
  readonly #out: NodeJS.WritableStream;

  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
  }

  async #write(chunk: Buffer): Promise<void> {
    if (!this.#out.write(chunk)) await once(this.#out, 'drain');
  }

  /** Adds one regular file; `body` must yield exactly `entry.size` bytes. */
  async add(entry: TarEntryHeader, body: Buffer | AsyncIterable<Buffer>): Promise<void> {
    await this.#write(encodeHeader(entry));
    let written = 0;
    for await (const chunk of Buffer.isBuffer(body) ? [body] : body) {
      written += chunk.length;
      if (written > entry.size) throw new TarError(`${entry.name} grew while being archived`);
      await this.#write(chunk);
    }
    if (written !== entry.size) throw new TarError(`${entry.name} changed size while being archived`);
    const pad = padding(entry.size);
    if (pad > 0) await this.#write(Buffer.alloc(pad));
  }

  async finish(): Promise<void> {
    await this.#write(Buffer.alloc(BLOCK * 2));
  }
}

/** Exact-length reads over a stream of chunks, holding at most one chunk beyond what was asked. */
class ChunkReader {
  readonly #source: AsyncIterator<Buffer>;
  #pending: Buffer = Buffer.alloc(0);

  constructor(source: AsyncIterable<Buffer>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    const next = await this.#source.next();
    if (next.done) return false;
    this.#pending = this.#pending.length === 0 ? next.value : Buffer.concat([this.#pending, next.value]);
    return true;
  }

  /** Exactly `n` bytes, or undefined at a clean end of stream before the first byte. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.#pending.length < n) {
      if (!(await this.#fill())) {
        if (this.#pending.length === 0) return undefined;
        throw new TarError('tar archive is truncated');
      }
    }
    const out = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(n);
    return out;
  }

  /** Between 1 and `max` bytes, as they arrived. */
  async take(max: number): Promise<Buffer> {
    if (this.#pending.length === 0 && !(await this.#fill())) throw new TarError('tar archive is truncated');
    const out = this.#pending.subarray(0, Math.min(max, this.#pending.length));
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }
}

/**
 * Reads a tar stream, calling `onEntry` for each regular file with its body; a body the callback leaves
 * unread is skipped. Directories are passed over; links, devices and extended headers are refused.
 */
export async function readTar(
  source: AsyncIterable<Buffer>,
  onEntry: (entry: TarEntryHeader, body: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  const reader = new ChunkReader(source);
  for (;;) {
    const block = await reader.read(BLOCK);
    if (block === undefined) throw new TarError('tar archive ends without its end-of-archive blocks');
    if (block.every((b) => b === 0)) return;
    const stored = readOctal(block, 148, 8, 'checksum');
    // The checksum field counts as spaces; the block may be the caller's buffer, so it is not written to.
    let sum = 8 * 0x20;
    block.forEach((byte, i) => {
      if (i < 148 || i >= 156) sum += byte;
    });
    if (sum !== stored) throw new TarError('tar header checksum mismatch (corrupt archive)');
    const nul = block.indexOf(0, 0);
    const name = block.subarray(0, nul === -1 || nul > NAME_BYTES ? NAME_BYTES : nul).toString('utf8');
    const prefixEnd = block.indexOf(0, 345);
    const prefix = block
      .subarray(345, prefixEnd === -1 || prefixEnd > 500 ? 500 : prefixEnd)
      .toString('utf8');
    const type = String.fromCharCode(block[156]!);
    const size = readOctal(block, 124, 12, 'size');
    const entry: TarEntryHeader = {
      name: prefix ? `${prefix}/${name}` : name,
      size,
      mode: readOctal(block, 100, 8, 'mode'),
      mtime: new Date(readOctal(block, 136, 12, 'mtime') * 1000),
    };
    if (type === '5') continue;
    if (type !== '0' && type !== '\0') {
      throw new TarError(`tar entry '${entry.name}' has type '${type}'; only regular files are expected`);
    }
    let left = size;
    // Not a generator: a callback that stops reading early must not end the stream the next entry comes from.
    const body: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<Buffer>> => {
          if (left === 0) return { done: true, value: undefined };
          const chunk = await reader.take(left);
          left -= chunk.length;
          return { done: false, value: chunk };
        },
      }),
    };
    await onEntry(entry, body);
    while (left > 0) left -= (await reader.take(left)).length;
    const pad = padding(size);
    if (pad > 0 && (await reader.read(pad)) === undefined) throw new TarError('tar archive is truncated');
  }
}
