// The in-memory SFTP peer of serve-sftp tests: a buffered channel, a client that frames requests and replies, and a
// FileSession that records what the SFTP layer asked of it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  DirEntry,
  DirHandle,
  FileHandle,
  FileSession,
  FileStat,
  HashAlgorithm,
  OpenMode,
  SetAttrs,
  StatVfs,
} from '../core/types.js';
import { FerryError, NotFoundError } from '../errors.js';
import { rootLogger } from '../logger.js';
import { chunksOf } from '../util/byte-chunks.js';
import { type SftpServeOptions, serveSftp } from './server.js';
import { FXF, FXP } from './wire/constants.js';
import { PacketFramer } from './wire/framer.js';
import { PacketReader } from './wire/reader.js';
import { PacketWriter } from './wire/writer.js';

export const logger = rootLogger.child(
  { logger: 'sftp-test' },
  { level: process.env.FERRY_LOG_LEVEL ?? 'silent' },
);

/** The server end of an SSH channel, buffered like ssh2's (2 MiB each way); the client may stop reading. */
export class TestChannel extends Duplex {
  clientReading = true;
  serverEnded = false;
  exitStatus: number | undefined;
  readonly #parked: Array<() => void> = [];
  readonly #onData: (chunk: Buffer) => void;

  constructor(onData: (chunk: Buffer) => void) {
    super({
      readableHighWaterMark: 2 * 1024 * 1024,
      writableHighWaterMark: 2 * 1024 * 1024,
      allowHalfOpen: true,
    });
    this.#onData = onData;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const deliver = (): void => {
      this.#onData(chunk);
      callback();
    };
    if (this.clientReading) deliver();
    else this.#parked.push(deliver);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.serverEnded = true;
    callback();
  }

  /** Like ssh2's server Channel.exit(): the status sshd would report for sftp-server. */
  exit(status: number): void {
    assert.equal(this.serverEnded, false, 'exit status must precede the end of the channel');
    this.exitStatus = status;
  }

  startReading(): void {
    this.clientReading = true;
    for (const deliver of this.#parked.splice(0)) deliver();
  }
}

export class TestClient {
  readonly channel: TestChannel;
  readonly #framer = new PacketFramer(1024 * 1024);
  readonly #waiting = new Map<number, (reply: PacketReader) => void>();
  readonly replies: PacketReader[] = [];
  version: PacketReader | undefined;
  #nextId = 1;
  /** When set, replies are only counted, never assembled: for tests that stream gigabytes. */
  countOnly = false;
  repliesCounted = 0;
  #lengthBytes: number[] = [];
  #skip = 0;

  /** `makeChannel`: another channel than TestChannel (sink-channel-fixture.ts). */
  constructor(makeChannel: (onData: (chunk: Buffer) => void) => TestChannel = (d) => new TestChannel(d)) {
    const onData = (chunk: Buffer): void => {
      if (this.countOnly) {
        this.#count(chunk);
        return;
      }
      this.#framer.push(chunk);
      for (let packet = this.#framer.next(); packet; packet = this.#framer.next()) this.#dispatch(packet);
    };
    this.channel = makeChannel(onData);
  }

  #count(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - pos);
        this.#skip -= n;
        pos += n;
        if (this.#skip === 0) this.repliesCounted++;
        continue;
      }
      this.#lengthBytes.push(chunk[pos++]!);
      if (this.#lengthBytes.length === 4) {
        this.#skip = Buffer.from(this.#lengthBytes).readUInt32BE(0);
        this.#lengthBytes = [];
      }
    }
  }

  #dispatch(packet: Buffer): void {
    const reader = new PacketReader(packet);
    const type = reader.uint8();
    if (type === FXP.VERSION) {
      this.version = reader;
      return;
    }
    const id = reader.uint32();
    const resolve = this.#waiting.get(id);
    this.#waiting.delete(id);
    resolve?.(new PacketReader(packet));
  }

  sendRaw(bytes: Buffer): void {
    this.channel.push(bytes);
  }

  init(): void {
    this.sendRaw(new PacketWriter(FXP.INIT).uint32(3).finish());
  }

  /** Sends a request and resolves with its reply (positioned at the type byte). */
  request(type: number, fill: (w: PacketWriter) => void): Promise<PacketReader> {
    const id = this.#nextId++;
    const writer = new PacketWriter(type).uint32(id);
    fill(writer);
    const reply = new Promise<PacketReader>((resolve) => this.#waiting.set(id, resolve));
    this.sendRaw(writer.finish());
    return reply;
  }

  extended(name: string, fill: (w: PacketWriter) => void): Promise<PacketReader> {
    return this.request(FXP.EXTENDED, (w) => {
      w.string(name);
      fill(w);
    });
  }

  end(): void {
    this.channel.push(null);
  }
}

export function expectStatus(reply: PacketReader, code: number, message?: string): void {
  assert.equal(reply.uint8(), FXP.STATUS);
  reply.uint32();
  const got = reply.uint32();
  const text = reply.utf8();
  assert.equal(got, code, `status ${got} "${text}"`);
  if (message !== undefined) assert.equal(text, message);
}

export function expectHandle(reply: PacketReader): Buffer {
  const type = reply.uint8();
  assert.equal(type, FXP.HANDLE, `expected HANDLE, got ${type}`);
  reply.uint32();
  return Buffer.from(reply.string());
}

export function fileStat(size: number, mode = 0o100644): FileStat {
  const kind = (mode & 0o170000) === 0o040000 ? 'directory' : 'file';
  return {
    kind,
    mode,
    size,
    uid: 1000,
    gid: 1000,
    owner: 'alice',
    group: 'staff',
    nlink: 1,
    atime: 1,
    mtime: 2,
  };
}

/** In-memory FileSession recording what the SFTP layer asked of it. */
export class FakeSession implements FileSession {
  readonly identity = {
    sessionId: 's1',
    username: 'alice',
    homeDir: '/srv/alice',
    permissions: { '/': ['*' as const] },
    remoteAddress: '127.0.0.1',
    protocol: 'sftp' as const,
  };
  readonly files = new Map<string, Buffer>();
  readonly dirs = new Map<string, number>([['/', 0]]);
  readonly calls: string[] = [];
  closed = false;
  readsStarted = 0;
  writeDelayMs = 0;
  /** Sees each write's data as the server hands it to the file (which memory it is in). */
  onWrite: ((offset: number, data: readonly Buffer[]) => void) | undefined;
  /** A shared buffer read returns, so big read tests allocate nothing per request. */
  readSource: Buffer | undefined;

  async realpath(path: string): Promise<string> {
    return path.startsWith('/') ? path : `/${path === '.' ? '' : path}`;
  }
  async stat(path: string): Promise<FileStat> {
    const file = this.files.get(path);
    if (file) return fileStat(file.length);
    if (this.dirs.has(path)) return fileStat(0, 0o40755);
    throw new NotFoundError();
  }
  lstat(path: string): Promise<FileStat> {
    return this.stat(path);
  }
  async setstat(path: string, attrs: SetAttrs, options?: { followSymlinks?: boolean }): Promise<void> {
    this.calls.push(`setstat ${path} ${JSON.stringify(attrs)} ${options?.followSymlinks ?? true}`);
  }
  async openFile(path: string, mode: OpenMode): Promise<FileHandle> {
    if (mode.truncate || (mode.create && !this.files.has(path))) this.files.set(path, Buffer.alloc(0));
    if (!this.files.has(path) && !this.readSource) throw new NotFoundError();
    return this.#handle(path, mode);
  }
  #handle(path: string, mode: OpenMode): FileHandle {
    const session = this;
    const content = (): Buffer => session.readSource ?? session.files.get(path) ?? Buffer.alloc(0);
    return {
      path,
      mode,
      async read(offset, length, headroom = 0) {
        session.readsStarted++;
        const data = content().subarray(offset, offset + length);
        if (headroom === 0) return data;
        const framed = Buffer.allocUnsafe(headroom + data.length);
        data.copy(framed, headroom);
        return framed;
      },
      async write(offset, chunks) {
        session.calls.push(`write-start ${offset}`);
        session.onWrite?.(offset, chunksOf(chunks));
        if (session.writeDelayMs) await sleep(session.writeDelayMs * (1 + (offset % 3)));
        const data = Buffer.concat(chunksOf(chunks));
        const current = content();
        const next = Buffer.alloc(Math.max(current.length, offset + data.length));
        current.copy(next);
        data.copy(next, offset);
        session.files.set(path, next);
        session.calls.push(`write-end ${offset}`);
      },
      async stat() {
        return fileStat(content().length);
      },
      async setstat(attrs) {
        session.calls.push(`fsetstat ${JSON.stringify(attrs)}`);
      },
      async sync() {
        session.calls.push('sync');
      },
      async hash(algorithm: HashAlgorithm, offset: number, length: number) {
        const data = content();
        return createHash(algorithm)
          .update(data.subarray(offset, length === 0 ? data.length : offset + length))
          .digest();
      },
      async checksum({ algorithm, offset, length, blockSize }) {
        const data = content();
        const start = Math.min(offset, data.length);
        const end = length === 0 ? data.length : Math.min(data.length, offset + length);
        const digest = (from: number, to: number) =>
          createHash(algorithm).update(data.subarray(from, to)).digest();
        if (blockSize === 0) return [digest(start, end)];
        const digests: Buffer[] = [];
        for (let at = start; at < end; at += blockSize)
          digests.push(digest(at, Math.min(end, at + blockSize)));
        return digests;
      },
      async close() {
        session.calls.push(`close ${path}`);
      },
    };
  }
  async openDir(path: string): Promise<DirHandle> {
    const count = this.dirs.get(path);
    if (count === undefined) throw new NotFoundError();
    const entries: DirEntry[] = Array.from({ length: count }, (_, i) => ({
      name: `f${i}`,
      stat: fileStat(i),
    }));
    let served = false;
    return {
      path,
      // One core batch larger than a NAME reply: the SFTP layer must split it.
      async read() {
        if (served) return null;
        served = true;
        return entries;
      },
      async close() {},
    };
  }
  async remove(path: string): Promise<void> {
    if (!this.files.delete(path)) throw new NotFoundError();
  }
  async mkdir(path: string): Promise<void> {
    this.calls.push(`mkdir ${path}`);
  }
  async rmdir(path: string): Promise<void> {
    this.calls.push(`rmdir ${path}`);
  }
  async rename(from: string, to: string, options: { overwrite: boolean }): Promise<void> {
    if (!options.overwrite && this.files.has(to)) throw new FerryError('ERR_ALREADY_EXISTS', to);
    this.calls.push(`rename ${from} ${to} ${options.overwrite}`);
  }
  async readlink(path: string): Promise<string> {
    return `${path}-target`;
  }
  async symlink(targetPath: string, linkPath: string): Promise<void> {
    this.calls.push(`symlink ${targetPath} ${linkPath}`);
  }
  async hardlink(existingPath: string, newPath: string): Promise<void> {
    this.calls.push(`hardlink ${existingPath} ${newPath}`);
  }
  async statvfs(): Promise<StatVfs> {
    return {
      bsize: 4096,
      frsize: 4096,
      blocks: 100,
      bfree: 50,
      bavail: 40,
      files: 10,
      ffree: 5,
      favail: 4,
      fsid: 7,
      flag: 0,
      namemax: 255,
    };
  }
  async copyData(
    source: FileHandle,
    sourceOffset: number,
    length: number,
    target: FileHandle,
    targetOffset: number,
  ) {
    this.calls.push(`copy ${source.path}@${sourceOffset}+${length} ${target.path}@${targetOffset}`);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

export function start(
  options: Partial<SftpServeOptions> = {},
  makeChannel?: (onData: (chunk: Buffer) => void) => TestChannel,
): {
  client: TestClient;
  session: FakeSession;
  done: Promise<void>;
} {
  const client = new TestClient(makeChannel);
  const session = new FakeSession();
  const done = serveSftp(client.channel, session, { logger, ...options });
  return { client, session, done };
}

export const RW_CREATE = FXF.READ | FXF.WRITE | FXF.CREAT | FXF.TRUNC;

export async function open(client: TestClient, path: string, pflags: number): Promise<Buffer> {
  return expectHandle(await client.request(FXP.OPEN, (w) => w.string(path).uint32(pflags).attrs({})));
}
