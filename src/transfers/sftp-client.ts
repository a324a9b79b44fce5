// SFTP v3 client operations on a raw `sftp` subsystem channel: typed requests, extensions (limits, check-file, posix-rename).
// Ours rather than ssh2's client SFTP because that one drops the payload of extension replies it does not
// know (check-file), and we want to own pipelining and backpressure. Packets, ATTRS and status codes are
// the server's own wire module (sftp/wire/); request/reply matching is in sftp-channel.ts.
import type { Duplex } from 'node:stream';
import { FerryError, ProtocolError } from '../errors.js';
import { EXT, FX, FXF, FXP, MAX_READ_LENGTH } from '../sftp/wire/constants.js';
import type { Attrs, NameEntry, PacketReader } from '../sftp/wire/reader.js';
import { encodeWriteInPlace, writeHeaderLength } from '../sftp/wire/writer.js';
import { SftpRequestChannel, SftpStatusError, statusOrThrow } from './sftp-channel.js';

export const OPEN = FXF;

/** What an SFTP v3 server must accept without limits@openssh.com (draft-02 §3: 34000-byte packets). */
export const DEFAULT_CHUNK = 32 * 1024;
/** The most we ask for per request even when a server allows more: OpenSSH's own 255 KiB. */
export const MAX_CHUNK = MAX_READ_LENGTH;

export type SftpAttrs = Attrs;
export type SftpDirEntry = Readonly<NameEntry>;

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

export const isDirectory = (a: SftpAttrs): boolean => ((a.permissions ?? 0) & 0o170000) === 0o040000;
export const isRegularFile = (a: SftpAttrs): boolean => ((a.permissions ?? 0) & 0o170000) === 0o100000;

/** The one digest of a check-file reply: `string "check-file"`, `string algorithm`, then the hash bytes. */
function checkFileDigest(r: PacketReader): string {
  let algorithm = r.utf8();
  // The draft's reply starts with the extension name; tolerate servers that leave it out.
  if (algorithm === EXT.CHECK_FILE_REPLY) algorithm = r.utf8();
  if (algorithm !== 'sha256') throw new ProtocolError(`check-file answered with ${algorithm}, not sha256`);
  const digest = r.rest();
  if (digest.length !== 32) throw new ProtocolError('check-file reply holds no single SHA-256 digest');
  return digest.toString('hex');
}

export class SftpClient {
  readonly #requests: SftpRequestChannel;
  extensions: ReadonlyMap<string, string> = new Map();
  limits: SftpLimits | undefined;

  private constructor(channel: Duplex) {
    // A DATA reply to the largest READ: type, id, the data's length, the data.
    this.#requests = new SftpRequestChannel(channel, 9 + MAX_CHUNK);
  }

  /** Sends INIT, reads VERSION and, when offered, asks for the server's limits. */
  static async start(channel: Duplex): Promise<SftpClient> {
    const client = new SftpClient(channel);
    client.extensions = await client.#requests.init();
    if (client.extensions.has(EXT.LIMITS)) {
      const r = await client.#requests.extended(EXT.LIMITS, () => undefined);
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
    return this.extensions.has(EXT.CHECK_FILE_NAME) && this.extensions.has(EXT.CHECK_FILE_HANDLE);
  }

  /** True while the channel's buffer is full; await drained() before queueing more writes. */
  get congested(): boolean {
    return this.#requests.congested;
  }

  drained(): Promise<void> {
    return this.#requests.drained();
  }

  async open(path: string, flags: number, attrs: SftpAttrs = {}): Promise<Buffer> {
    const r = await this.#requests.expect(`open ${path}`, FXP.HANDLE, FXP.OPEN, (w) =>
      w.string(path).uint32(flags).attrs(attrs),
    );
    return Buffer.from(r.string());
  }

  close(handle: Buffer): Promise<void> {
    return this.#requests.expectStatus('close', FXP.CLOSE, (w) => w.string(handle));
  }

  /** Up to `length` bytes at `offset`; null at end of file. Servers may return fewer bytes than asked. */
  async read(handle: Buffer, offset: number, length: number): Promise<Buffer | null> {
    const chunks = await this.readChunks(handle, offset, length);
    return chunks === null ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  /**
   * As `read`, the data as slices of the channel chunks it arrived in: a 255 KiB reply spans eight SSH packets,
   * and joining them was a copy and a fresh 255 KiB buffer per reply (a mark-compact every few MiB).
   */
  async readChunks(handle: Buffer, offset: number, length: number): Promise<readonly Buffer[] | null> {
    const reply = await this.#requests.send('read', FXP.READ, (w) =>
      w.string(handle).uint64(offset).uint32(length),
    );
    if (reply.type === FXP.DATA) return reply.reader.stringChunks();
    statusOrThrow(reply, 'read', true);
    return null;
  }

  /**
   * Gives readChunks' slices back once the caller is done with them (written, hashed): their buffers take the next
   * replies. Optional: slices never given back are collected as usual.
   */
  releaseReadData(slices: readonly Buffer[]): void {
    this.#requests.releaseData(slices);
  }

  /** Channel payloads received through ssh2's data sink (socket-reads.ts). */
  get payloadsReceived(): number {
    return this.#requests.payloadsReceived;
  }

  write(handle: Buffer, offset: number, data: Buffer): Promise<void> {
    const size = 16 + handle.length + data.length;
    return this.#requests.expectStatus(
      'write',
      FXP.WRITE,
      (w) => w.string(handle).uint64(offset).string(data),
      size,
    );
  }

  /** Bytes in front of a WRITE's data (length, type, id, handle, offset, data length); see writeFrame. */
  writeHeaderBytes(handle: Buffer): number {
    return writeHeaderLength(handle);
  }

  /**
   * A WRITE of the bytes of `frame` after its first writeHeaderBytes(handle), which become the request's header:
   * data read from a file behind that space is sent as it lies, where `write` copies it into a new packet (a
   * gibibyte of copies and 255 KiB allocations per gibibyte uploaded).
   */
  writeFrame(handle: Buffer, offset: number, frame: Buffer): Promise<void> {
    return this.#requests.expectStatusEncoded('write', (id) => encodeWriteInPlace(id, handle, offset, frame));
  }

  async stat(path: string): Promise<SftpAttrs> {
    return (await this.#requests.expect(`stat ${path}`, FXP.ATTRS, FXP.STAT, (w) => w.string(path))).attrs();
  }

  async lstat(path: string): Promise<SftpAttrs> {
    return (
      await this.#requests.expect(`lstat ${path}`, FXP.ATTRS, FXP.LSTAT, (w) => w.string(path))
    ).attrs();
  }

  async fstat(handle: Buffer): Promise<SftpAttrs> {
    return (await this.#requests.expect('fstat', FXP.ATTRS, FXP.FSTAT, (w) => w.string(handle))).attrs();
  }

  /** stat, or undefined when the path does not exist. */
  async tryStat(path: string): Promise<SftpAttrs | undefined> {
    try {
      return await this.stat(path);
    } catch (err) {
      if (err instanceof SftpStatusError && err.sftpCode === FX.NO_SUCH_FILE) return undefined;
      throw err;
    }
  }

  setstat(path: string, attrs: SftpAttrs): Promise<void> {
    return this.#requests.expectStatus(`setstat ${path}`, FXP.SETSTAT, (w) => w.string(path).attrs(attrs));
  }

  fsetstat(handle: Buffer, attrs: SftpAttrs): Promise<void> {
    return this.#requests.expectStatus('fsetstat', FXP.FSETSTAT, (w) => w.string(handle).attrs(attrs));
  }

  /** Every entry of a directory ('.' and '..' dropped), read in the server's batches. */
  async list(path: string): Promise<SftpDirEntry[]> {
    const handle = Buffer.from(
      (
        await this.#requests.expect(`opendir ${path}`, FXP.HANDLE, FXP.OPENDIR, (w) => w.string(path))
      ).string(),
    );
    const entries: SftpDirEntry[] = [];
    try {
      for (;;) {
        const reply = await this.#requests.send(`readdir ${path}`, FXP.READDIR, (w) => w.string(handle));
        if (reply.type !== FXP.NAME) {
          statusOrThrow(reply, `readdir ${path}`, true);
          break;
        }
        const reader = reply.reader;
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
    return this.#requests.expectStatus(`remove ${path}`, FXP.REMOVE, (w) => w.string(path));
  }

  mkdir(path: string, attrs: SftpAttrs = {}): Promise<void> {
    return this.#requests.expectStatus(`mkdir ${path}`, FXP.MKDIR, (w) => w.string(path).attrs(attrs));
  }

  rmdir(path: string): Promise<void> {
    return this.#requests.expectStatus(`rmdir ${path}`, FXP.RMDIR, (w) => w.string(path));
  }

  async realpath(path: string): Promise<string> {
    const r = await this.#requests.expect(`realpath ${path}`, FXP.NAME, FXP.REALPATH, (w) => w.string(path));
    if (r.uint32() < 1) throw new ProtocolError('realpath: empty NAME reply');
    return r.utf8();
  }

  async readlink(path: string): Promise<string> {
    const r = await this.#requests.expect(`readlink ${path}`, FXP.NAME, FXP.READLINK, (w) => w.string(path));
    if (r.uint32() < 1) throw new ProtocolError('readlink: empty NAME reply');
    return r.utf8();
  }

  /**
   * Renames; `overwrite` replaces an existing target atomically with posix-rename@openssh.com when offered,
   * else by removing the target first (v3 RENAME refuses an existing target).
   */
  async rename(from: string, to: string, overwrite = false): Promise<void> {
    if (overwrite && this.extensions.has(EXT.POSIX_RENAME)) {
      await this.#requests.extendedStatus(EXT.POSIX_RENAME, `rename ${from}`, (w) =>
        w.string(from).string(to),
      );
      return;
    }
    if (overwrite && (await this.tryStat(to))) await this.remove(to);
    await this.#requests.expectStatus(`rename ${from}`, FXP.RENAME, (w) => w.string(from).string(to));
  }

  async statvfs(path: string): Promise<SftpStatVfs> {
    if (!this.extensions.has(EXT.STATVFS))
      throw new FerryError('ERR_UNSUPPORTED', `the server does not offer ${EXT.STATVFS}`);
    const r = await this.#requests.extended(EXT.STATVFS, (w) => w.string(path));
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
    const r = await this.#requests.extended(EXT.CHECK_FILE_NAME, (w) =>
      w.string(path).string('sha256').uint64(offset).uint64(length).uint32(0),
    );
    return checkFileDigest(r);
  }

  /** SHA-256 of a range of an open file (check-file-handle; the handle must be readable). */
  async sha256Handle(handle: Buffer, offset = 0, length = 0): Promise<string> {
    const r = await this.#requests.extended(EXT.CHECK_FILE_HANDLE, (w) =>
      w.string(handle).string('sha256').uint64(offset).uint64(length).uint32(0),
    );
    return checkFileDigest(r);
  }

  async fsync(handle: Buffer): Promise<void> {
    if (!this.extensions.has(EXT.FSYNC)) return;
    await this.#requests.extendedStatus(EXT.FSYNC, 'fsync', (w) => w.string(handle));
  }

  end(): void {
    this.#requests.end();
  }
}
