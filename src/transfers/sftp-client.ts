// SFTP v3 client on a raw `sftp` subsystem channel: typed requests, extensions (limits, check-file, posix-rename).
// Ours rather than ssh2's client SFTP because that one drops the payload of extension replies it does not
// know (check-file), and we want to own pipelining and backpressure.
import type { Duplex } from 'node:stream';
import { FerryError, type FerryErrorCode, ProtocolError } from '../errors.js';
import { ATTR, FX, FXF, FXP } from '../sftp/wire/constants.js';

// The wire constants are the server's: one definition of the protocol for both directions.
const PKT = FXP;
const STATUS = FX;
export const OPEN = FXF;

/** Replies larger than this end the session: bounded memory whatever the server sends. */
const MAX_INCOMING_PACKET = 4 * 1024 * 1024;
/** What an SFTP v3 server must accept without limits@openssh.com (draft-02 §3: 34000-byte packets). */
export const DEFAULT_CHUNK = 32 * 1024;
/** The most we ask for per request even when a server allows more: OpenSSH's own 255 KiB. */
export const MAX_CHUNK = 255 * 1024;

export interface SftpAttrs {
  size?: number;
  uid?: number;
  gid?: number;
  permissions?: number;
  atime?: number;
  mtime?: number;
}

export interface SftpDirEntry {
  readonly filename: string;
  readonly longname: string;
  readonly attrs: SftpAttrs;
}

export interface SftpStatVfs {
  readonly bsize: number;
  readonly frsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
}

export interface SftpLimits {
  readonly maxPacketLength: number;
  readonly maxReadLength: number;
  readonly maxWriteLength: number;
  readonly maxOpenHandles: number;
}

/** A STATUS reply other than OK, with the server's message; `sftpCode` is the wire code. */
export class SftpStatusError extends FerryError {
  readonly sftpCode: number;
  constructor(sftpCode: number, message: string, what: string) {
    const code: FerryErrorCode =
      sftpCode === STATUS.NO_SUCH_FILE
        ? 'ERR_NOT_FOUND'
        : sftpCode === STATUS.PERMISSION_DENIED
          ? 'ERR_PERMISSION_DENIED'
          : sftpCode === STATUS.OP_UNSUPPORTED
            ? 'ERR_UNSUPPORTED'
            : 'ERR_IO';
    super(code, `${what}: ${message || `SFTP status ${sftpCode}`}`);
    this.sftpCode = sftpCode;
  }
}

export class SftpConnectionError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IO', message, options);
  }
}

class Writer {
  #parts: Buffer[] = [];
  #length = 0;
  #push(b: Buffer): this {
    this.#parts.push(b);
    this.#length += b.length;
    return this;
  }
  byte(v: number): this {
    return this.#push(Buffer.of(v));
  }
  uint32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    return this.#push(b);
  }
  uint64(v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(v));
    return this.#push(b);
  }
  string(v: string | Buffer): this {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    return this.uint32(b.length).#push(b);
  }
  attrs(a: SftpAttrs): this {
    let flags = 0;
    if (a.size !== undefined) flags |= ATTR.SIZE;
    if (a.uid !== undefined && a.gid !== undefined) flags |= ATTR.UIDGID;
    if (a.permissions !== undefined) flags |= ATTR.PERMISSIONS;
    if (a.atime !== undefined && a.mtime !== undefined) flags |= ATTR.ACMODTIME;
    this.uint32(flags);
    if (a.size !== undefined) this.uint64(a.size);
    if (flags & ATTR.UIDGID) this.uint32(a.uid!).uint32(a.gid!);
    if (a.permissions !== undefined) this.uint32(a.permissions);
    if (flags & ATTR.ACMODTIME) this.uint32(a.atime!).uint32(a.mtime!);
    return this;
  }
  /** The packet with its length prefix. */
  packet(): Buffer {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(this.#length);
    return Buffer.concat([head, ...this.#parts], this.#length + 4);
  }
}

/** Bounds-checked reader over one reply packet; a short packet is a protocol error for this session. */
class Reader {
  #pos = 0;
  constructor(private readonly buf: Buffer) {}
  #need(n: number): void {
    if (this.#pos + n > this.buf.length) throw new ProtocolError('truncated SFTP reply');
  }
  get remaining(): number {
    return this.buf.length - this.#pos;
  }
  byte(): number {
    this.#need(1);
    return this.buf[this.#pos++]!;
  }
  uint32(): number {
    this.#need(4);
    const v = this.buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }
  uint64(): number {
    this.#need(8);
    const v = this.buf.readBigUInt64BE(this.#pos);
    this.#pos += 8;
    return Number(v);
  }
  bytes(): Buffer {
    const len = this.uint32();
    this.#need(len);
    const v = this.buf.subarray(this.#pos, this.#pos + len);
    this.#pos += len;
    return v;
  }
  utf8(): string {
    return this.bytes().toString('utf8');
  }
  rest(): Buffer {
    const v = this.buf.subarray(this.#pos);
    this.#pos = this.buf.length;
    return v;
  }
  attrs(): SftpAttrs {
    const flags = this.uint32();
    const a: SftpAttrs = {};
    if (flags & ATTR.SIZE) a.size = this.uint64();
    if (flags & ATTR.UIDGID) {
      a.uid = this.uint32();
      a.gid = this.uint32();
    }
    if (flags & ATTR.PERMISSIONS) a.permissions = this.uint32();
    if (flags & ATTR.ACMODTIME) {
      a.atime = this.uint32();
      a.mtime = this.uint32();
    }
    if (flags & ATTR.EXTENDED) {
      const count = this.uint32();
      for (let i = 0; i < count; i++) {
        this.bytes();
        this.bytes();
      }
    }
    return a;
  }
}

interface Pending {
  readonly what: string;
  resolve(reply: { type: number; reader: Reader }): void;
  reject(err: Error): void;
}

export const isDirectory = (a: SftpAttrs): boolean => ((a.permissions ?? 0) & 0o170000) === 0o040000;
export const isRegularFile = (a: SftpAttrs): boolean => ((a.permissions ?? 0) & 0o170000) === 0o100000;

/** The one digest of a check-file reply: `string "check-file"`, `string algorithm`, then the hash bytes. */
function checkFileDigest(r: Reader): string {
  let algorithm = r.utf8();
  // The draft's reply starts with the extension name; tolerate servers that leave it out.
  if (algorithm === 'check-file') algorithm = r.utf8();
  if (algorithm !== 'sha256') throw new ProtocolError(`check-file answered with ${algorithm}, not sha256`);
  const digest = r.rest();
  if (digest.length !== 32) throw new ProtocolError('check-file reply holds no single SHA-256 digest');
  return digest.toString('hex');
}

export class SftpClient {
  readonly #channel: Duplex;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closedError: Error | undefined;
  #inbox: Buffer[] = [];
  #inboxLength = 0;
  #onVersion: ((reader: Reader) => void) | undefined;
  extensions: ReadonlyMap<string, string> = new Map();
  limits: SftpLimits | undefined;

  private constructor(channel: Duplex) {
    this.#channel = channel;
    channel.on('data', (chunk: Buffer) => this.#receive(chunk));
    channel.on('error', (err: Error) => this.#fail(new SftpConnectionError(`SFTP channel: ${err.message}`)));
    channel.on('close', () => this.#fail(new SftpConnectionError('connection lost')));
    channel.on('end', () => this.#fail(new SftpConnectionError('connection lost')));
  }

  /** Sends INIT, reads VERSION and, when offered, asks for the server's limits. */
  static async start(channel: Duplex): Promise<SftpClient> {
    const client = new SftpClient(channel);
    const version = await new Promise<Reader>((resolve, reject) => {
      client.#onVersion = resolve;
      client.#pending.set(-1, { what: 'init', resolve: () => {}, reject });
      channel.write(new Writer().byte(PKT.INIT).uint32(3).packet());
    }).finally(() => client.#pending.delete(-1));
    if (version.uint32() < 3) throw new ProtocolError('the server speaks an SFTP version older than 3');
    const extensions = new Map<string, string>();
    while (version.remaining > 0) extensions.set(version.utf8(), version.utf8());
    client.extensions = extensions;
    if (extensions.has('limits@openssh.com')) {
      const r = await client.#extended('limits@openssh.com', (w) => w);
      client.limits = {
        maxPacketLength: r.uint64(),
        maxReadLength: r.uint64(),
        maxWriteLength: r.uint64(),
        maxOpenHandles: r.uint64(),
      };
    }
    return client;
  }

  /** Bytes per READ: 255 KiB (or the server's limit) with limits@openssh.com, else the v3-safe 32 KiB. */
  get readChunk(): number {
    const max = this.limits?.maxReadLength ?? 0;
    return max > 0 ? Math.min(max, MAX_CHUNK) : DEFAULT_CHUNK;
  }

  get writeChunk(): number {
    const max = this.limits?.maxWriteLength ?? 0;
    return max > 0 ? Math.min(max, MAX_CHUNK) : DEFAULT_CHUNK;
  }

  /** The SHA-256 of a remote file (range) can be asked for: check-file-name/-handle are advertised. */
  get canCheckFile(): boolean {
    return this.extensions.has('check-file-name') && this.extensions.has('check-file-handle');
  }

  /** True while the channel's buffer is full; await drained() before queueing more writes. */
  get congested(): boolean {
    return this.#channel.writableNeedDrain;
  }

  drained(): Promise<void> {
    if (!this.#channel.writableNeedDrain || this.#closedError) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#channel.off('drain', done);
        this.#channel.off('close', done);
        resolve();
      };
      this.#channel.on('drain', done);
      this.#channel.on('close', done);
    });
  }

  #fail(err: Error): void {
    if (this.#closedError) return;
    this.#closedError = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  #receive(chunk: Buffer): void {
    this.#inbox.push(chunk);
    this.#inboxLength += chunk.length;
    while (this.#inboxLength >= 4) {
      let head = this.#inbox[0]!;
      if (head.length < 4) {
        head = Buffer.concat(this.#inbox);
        this.#inbox = [head];
      }
      const length = head.readUInt32BE(0);
      if (length < 1 || length > MAX_INCOMING_PACKET) {
        this.#fail(new ProtocolError(`SFTP reply of ${length} bytes is out of bounds`));
        this.#channel.destroy();
        return;
      }
      if (this.#inboxLength < 4 + length) return;
      const all = this.#inbox.length === 1 ? head : Buffer.concat(this.#inbox);
      const packet = all.subarray(4, 4 + length);
      const rest = all.subarray(4 + length);
      this.#inbox = rest.length > 0 ? [rest] : [];
      this.#inboxLength = rest.length;
      try {
        this.#dispatch(packet);
      } catch (err) {
        this.#fail(err instanceof Error ? err : new ProtocolError(String(err)));
        this.#channel.destroy();
        return;
      }
    }
  }

  #dispatch(packet: Buffer): void {
    const reader = new Reader(packet);
    const type = reader.byte();
    if (type === PKT.VERSION) {
      const onVersion = this.#onVersion;
      this.#onVersion = undefined;
      if (!onVersion) throw new ProtocolError('unexpected SFTP VERSION');
      onVersion(reader);
      return;
    }
    const id = reader.uint32();
    const pending = this.#pending.get(id);
    if (!pending) throw new ProtocolError(`SFTP reply to unknown request ${id}`);
    this.#pending.delete(id);
    pending.resolve({ type, reader });
  }

  #send(what: string, type: number, build: (w: Writer) => Writer): Promise<{ type: number; reader: Reader }> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) >>> 0;
    const packet = build(new Writer().byte(type).uint32(id)).packet();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { what, resolve, reject });
      this.#channel.write(packet);
    });
  }

  async #expectStatus(what: string, request: number, build: (w: Writer) => Writer): Promise<void> {
    const { type, reader } = await this.#send(what, request, build);
    this.#statusOrThrow(type, reader, what, false);
  }

  /** OK (or EOF when allowed) returns; any other status throws; any other type is a protocol error. */
  #statusOrThrow(type: number, reader: Reader, what: string, eofOk: boolean): 'ok' | 'eof' {
    if (type !== PKT.STATUS) throw new ProtocolError(`${what}: unexpected SFTP reply type ${type}`);
    const code = reader.uint32();
    const message = reader.remaining >= 4 ? reader.utf8() : '';
    if (code === STATUS.OK) return 'ok';
    if (code === STATUS.EOF && eofOk) return 'eof';
    throw new SftpStatusError(code, message, what);
  }

  async #expect(what: string, want: number, request: number, build: (w: Writer) => Writer): Promise<Reader> {
    const { type, reader } = await this.#send(what, request, build);
    if (type === want) return reader;
    this.#statusOrThrow(type, reader, what, false);
    throw new ProtocolError(`${what}: OK status where data was expected`);
  }

  async #extended(name: string, build: (w: Writer) => Writer): Promise<Reader> {
    return this.#expect(name, PKT.EXTENDED_REPLY, PKT.EXTENDED, (w) => build(w.string(name)));
  }

  /** An extension whose reply is a STATUS (posix-rename, fsync). */
  #extendedStatus(name: string, what: string, build: (w: Writer) => Writer): Promise<void> {
    return this.#expectStatus(what, PKT.EXTENDED, (w) => build(w.string(name)));
  }

  async open(path: string, flags: number, attrs: SftpAttrs = {}): Promise<Buffer> {
    const r = await this.#expect(`open ${path}`, PKT.HANDLE, PKT.OPEN, (w) =>
      w.string(path).uint32(flags).attrs(attrs),
    );
    return Buffer.from(r.bytes());
  }

  close(handle: Buffer): Promise<void> {
    return this.#expectStatus('close', PKT.CLOSE, (w) => w.string(handle));
  }

  /** Up to `length` bytes at `offset`; null at end of file. Servers may return fewer bytes than asked. */
  async read(handle: Buffer, offset: number, length: number): Promise<Buffer | null> {
    const { type, reader } = await this.#send('read', PKT.READ, (w) =>
      w.string(handle).uint64(offset).uint32(length),
    );
    if (type === PKT.DATA) return reader.bytes();
    this.#statusOrThrow(type, reader, 'read', true);
    return null;
  }

  write(handle: Buffer, offset: number, data: Buffer): Promise<void> {
    return this.#expectStatus('write', PKT.WRITE, (w) => w.string(handle).uint64(offset).string(data));
  }

  async stat(path: string): Promise<SftpAttrs> {
    return (await this.#expect(`stat ${path}`, PKT.ATTRS, PKT.STAT, (w) => w.string(path))).attrs();
  }

  async lstat(path: string): Promise<SftpAttrs> {
    return (await this.#expect(`lstat ${path}`, PKT.ATTRS, PKT.LSTAT, (w) => w.string(path))).attrs();
  }

  async fstat(handle: Buffer): Promise<SftpAttrs> {
    return (await this.#expect('fstat', PKT.ATTRS, PKT.FSTAT, (w) => w.string(handle))).attrs();
  }

  /** stat, or undefined when the path does not exist. */
  async tryStat(path: string): Promise<SftpAttrs | undefined> {
    try {
      return await this.stat(path);
    } catch (err) {
      if (err instanceof SftpStatusError && err.sftpCode === STATUS.NO_SUCH_FILE) return undefined;
      throw err;
    }
  }

  setstat(path: string, attrs: SftpAttrs): Promise<void> {
    return this.#expectStatus(`setstat ${path}`, PKT.SETSTAT, (w) => w.string(path).attrs(attrs));
  }

  fsetstat(handle: Buffer, attrs: SftpAttrs): Promise<void> {
    return this.#expectStatus('fsetstat', PKT.FSETSTAT, (w) => w.string(handle).attrs(attrs));
  }

  /** Every entry of a directory ('.' and '..' dropped), read in the server's batches. */
  async list(path: string): Promise<SftpDirEntry[]> {
    const handle = Buffer.from(
      (await this.#expect(`opendir ${path}`, PKT.HANDLE, PKT.OPENDIR, (w) => w.string(path))).bytes(),
    );
    const entries: SftpDirEntry[] = [];
    try {
      for (;;) {
        const { type, reader } = await this.#send(`readdir ${path}`, PKT.READDIR, (w) => w.string(handle));
        if (type !== PKT.NAME) {
          this.#statusOrThrow(type, reader, `readdir ${path}`, true);
          break;
        }
        const count = reader.uint32();
        for (let i = 0; i < count; i++) {
          const filename = reader.utf8();
          const longname = reader.utf8();
          const attrs = reader.attrs();
          if (filename !== '.' && filename !== '..') entries.push({ filename, longname, attrs });
        }
      }
    } finally {
      await this.close(handle).catch(() => undefined);
    }
    return entries;
  }

  remove(path: string): Promise<void> {
    return this.#expectStatus(`remove ${path}`, PKT.REMOVE, (w) => w.string(path));
  }

  mkdir(path: string, attrs: SftpAttrs = {}): Promise<void> {
    return this.#expectStatus(`mkdir ${path}`, PKT.MKDIR, (w) => w.string(path).attrs(attrs));
  }

  rmdir(path: string): Promise<void> {
    return this.#expectStatus(`rmdir ${path}`, PKT.RMDIR, (w) => w.string(path));
  }

  async realpath(path: string): Promise<string> {
    const r = await this.#expect(`realpath ${path}`, PKT.NAME, PKT.REALPATH, (w) => w.string(path));
    if (r.uint32() < 1) throw new ProtocolError('realpath: empty NAME reply');
    return r.utf8();
  }

  async readlink(path: string): Promise<string> {
    const r = await this.#expect(`readlink ${path}`, PKT.NAME, PKT.READLINK, (w) => w.string(path));
    if (r.uint32() < 1) throw new ProtocolError('readlink: empty NAME reply');
    return r.utf8();
  }

  /**
   * Renames; `overwrite` replaces an existing target atomically with posix-rename@openssh.com when offered,
   * else by removing the target first (v3 RENAME refuses an existing target).
   */
  async rename(from: string, to: string, overwrite = false): Promise<void> {
    if (overwrite && this.extensions.has('posix-rename@openssh.com')) {
      await this.#extendedStatus('posix-rename@openssh.com', `rename ${from}`, (w) =>
        w.string(from).string(to),
      );
      return;
    }
    if (overwrite && (await this.tryStat(to))) await this.remove(to);
    await this.#expectStatus(`rename ${from}`, PKT.RENAME, (w) => w.string(from).string(to));
  }

  async statvfs(path: string): Promise<SftpStatVfs> {
    if (!this.extensions.has('statvfs@openssh.com'))
      throw new FerryError('ERR_UNSUPPORTED', 'the server does not offer statvfs@openssh.com');
    const r = await this.#extended('statvfs@openssh.com', (w) => w.string(path));
    return {
      bsize: r.uint64(),
      frsize: r.uint64(),
      blocks: r.uint64(),
      bfree: r.uint64(),
      bavail: r.uint64(),
      files: r.uint64(),
      ffree: r.uint64(),
    };
  }

  /** SHA-256 of the whole file (length 0: to its end) as the server computes it (check-file-name). */
  async sha256(path: string, offset = 0, length = 0): Promise<string> {
    const r = await this.#extended('check-file-name', (w) =>
      w.string(path).string('sha256').uint64(offset).uint64(length).uint32(0),
    );
    return checkFileDigest(r);
  }

  /** SHA-256 of a range of an open file (check-file-handle; the handle must be readable). */
  async sha256Handle(handle: Buffer, offset = 0, length = 0): Promise<string> {
    const r = await this.#extended('check-file-handle', (w) =>
      w.string(handle).string('sha256').uint64(offset).uint64(length).uint32(0),
    );
    return checkFileDigest(r);
  }

  async fsync(handle: Buffer): Promise<void> {
    if (!this.extensions.has('fsync@openssh.com')) return;
    await this.#extendedStatus('fsync@openssh.com', 'fsync', (w) => w.string(handle));
  }

  end(): void {
    this.#channel.end();
  }
}
