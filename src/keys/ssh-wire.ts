// SSH wire encoding (RFC 4251 §5: uint32, string, mpint) for key files: a bounds-checked reader and small writers.
import { KeyParseError } from './key-errors.js';

/** Reads SSH wire fields from a buffer; every read is bounds-checked and a short buffer is a `truncated` error. */
export class WireReader {
  readonly #buf: Buffer;
  readonly #what: string;
  #pos = 0;

  constructor(buf: Buffer, what: string) {
    this.#buf = buf;
    this.#what = what;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  #need(n: number): void {
    if (n < 0 || this.#pos + n > this.#buf.length) {
      throw new KeyParseError('truncated', `truncated key: ${this.#what} ends early`);
    }
  }

  uint32(): number {
    this.#need(4);
    const v = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.#need(n);
    const v = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  string(): Buffer {
    return this.bytes(this.uint32());
  }

  text(): string {
    return this.string().toString('utf8');
  }

  /** An mpint as its unsigned big-endian magnitude without leading zeros; negative values are refused. */
  mpint(): Buffer {
    const raw = this.string();
    if (raw.length > 0 && (raw[0]! & 0x80) !== 0) {
      throw new KeyParseError('malformed', `malformed key: negative integer in ${this.#what}`);
    }
    let i = 0;
    while (i < raw.length && raw[i] === 0) i++;
    return raw.subarray(i);
  }

  /** The unread tail. */
  rest(): Buffer {
    const v = this.#buf.subarray(this.#pos);
    this.#pos = this.#buf.length;
    return v;
  }
}

export function wireUint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export function wireString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([wireUint32(b.length), b]);
}

/** Encodes an unsigned big-endian magnitude as an mpint (minimal, with a 0 byte when the top bit is set). */
export function wireMpint(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  const body = m.length > 0 && (m[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), m]) : m;
  return wireString(body);
}
