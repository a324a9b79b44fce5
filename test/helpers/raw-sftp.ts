// A raw SFTP v3 client for attack tests: any request with any fields (ATTRS modes, extensions on any handle), every reply kept.
import ssh2 from 'ssh2';
import { FX, FXF, FXP } from '../../src/sftp/wire/constants.js';
import { PacketFramer } from '../../src/sftp/wire/framer.js';
import { type Attrs, PacketReader } from '../../src/sftp/wire/reader.js';
import { PacketWriter } from '../../src/sftp/wire/writer.js';

export { FXF };

/** A STATUS reply other than OK where the caller wanted success. */
export class SftpRefusal extends Error {
  readonly code: number;
  readonly text: string;
  constructor(what: string, code: number, text: string) {
    super(`${what}: status ${code} (${text})`);
    this.code = code;
    this.text = text;
  }
}

export interface Reply {
  readonly type: number;
  /** Positioned after the request id. */
  readonly reader: PacketReader;
}

export interface RawLogin {
  port: number;
  username: string;
  password: string;
}

/**
 * One SSH connection with one `sftp` channel. Every reply body is kept in `received`, so a test can
 * search everything the server ever sent this client for canary bytes or canary digests.
 */
export class RawSftp {
  readonly received: Buffer[] = [];
  readonly #conn: ssh2.Client;
  readonly #channel: ssh2.ClientChannel;
  readonly #framer = new PacketFramer(4 * 1024 * 1024);
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #onVersion: ((r: PacketReader) => void) | undefined;
  #nextId = 1;
  #closed: Error | undefined;

  private constructor(conn: ssh2.Client, channel: ssh2.ClientChannel) {
    this.#conn = conn;
    this.#channel = channel;
    channel.on('data', (chunk: Buffer) => this.#receive(chunk));
    const lost = () => this.#fail(new Error('SFTP channel closed'));
    channel.on('close', lost);
    conn.on('close', lost);
    conn.on('error', (err: Error) => this.#fail(err));
  }

  static async connect(login: RawLogin): Promise<RawSftp> {
    const conn = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      conn.once('ready', resolve).once('error', reject);
      conn.connect({
        host: '127.0.0.1',
        port: login.port,
        username: login.username,
        password: login.password,
        readyTimeout: 30_000,
        hostVerifier: () => true,
      });
    });
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      conn.subsys('sftp', (err, ch) => (err ? reject(err) : resolve(ch))),
    );
    const client = new RawSftp(conn, channel);
    await new Promise<PacketReader>((resolve) => {
      client.#onVersion = resolve;
      channel.write(new PacketWriter(FXP.INIT).uint32(3).finish());
    });
    return client;
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  #receive(chunk: Buffer): void {
    this.#framer.push(chunk);
    for (let body = this.#framer.next(); body !== null; body = this.#framer.next()) {
      const copy = Buffer.from(body);
      this.received.push(copy);
      const reader = new PacketReader(copy);
      const type = reader.uint8();
      if (type === FXP.VERSION) {
        this.#onVersion?.(reader);
        this.#onVersion = undefined;
        continue;
      }
      const id = reader.uint32();
      const pending = this.#pending.get(id);
      this.#pending.delete(id);
      pending?.resolve({ type, reader });
    }
  }

  /** Sends one request; `build` writes the fields after the id. */
  request(type: number, build: (w: PacketWriter) => PacketWriter): Promise<Reply> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    const packet = build(new PacketWriter(type).uint32(id)).finish();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#channel.write(packet);
    });
  }

  static #status(r: Reply, what: string, okTypes: readonly number[]): void {
    if (okTypes.includes(r.type)) return;
    if (r.type !== FXP.STATUS) throw new Error(`${what}: unexpected reply type ${r.type}`);
    const code = r.reader.uint32();
    const text = r.reader.remaining >= 4 ? r.reader.utf8() : '';
    if (code !== FX.OK) throw new SftpRefusal(what, code, text);
  }

  async #ok(what: string, type: number, build: (w: PacketWriter) => PacketWriter): Promise<void> {
    RawSftp.#status(await this.request(type, build), what, []);
  }

  async #want(
    what: string,
    want: number,
    type: number,
    build: (w: PacketWriter) => PacketWriter,
  ): Promise<PacketReader> {
    const r = await this.request(type, build);
    RawSftp.#status(r, what, [want]);
    if (r.type !== want) throw new Error(`${what}: OK where a reply of type ${want} was expected`);
    return r.reader;
  }

  async open(path: string, pflags: number, attrs: Attrs = {}): Promise<Buffer> {
    const r = await this.#want(`open ${path}`, FXP.HANDLE, FXP.OPEN, (w) =>
      w.string(path).uint32(pflags).attrs(attrs),
    );
    return r.string();
  }

  close(handle: Buffer): Promise<void> {
    return this.#ok('close', FXP.CLOSE, (w) => w.string(handle));
  }

  /** Up to `length` bytes; null at EOF. */
  async read(handle: Buffer, offset: number, length: number): Promise<Buffer | null> {
    const r = await this.request(FXP.READ, (w) => w.string(handle).uint64(offset).uint32(length));
    if (r.type === FXP.DATA) return r.reader.string();
    if (r.type !== FXP.STATUS) throw new Error(`read: unexpected reply type ${r.type}`);
    const code = r.reader.uint32();
    if (code === FX.EOF) return null;
    throw new SftpRefusal('read', code, r.reader.remaining >= 4 ? r.reader.utf8() : '');
  }

  async readAll(handle: Buffer): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let offset = 0; ; ) {
      const data = await this.read(handle, offset, 32 * 1024);
      if (data === null || data.length === 0) return Buffer.concat(parts);
      parts.push(data);
      offset += data.length;
    }
  }

  write(handle: Buffer, offset: number, data: Buffer): Promise<void> {
    return this.#ok('write', FXP.WRITE, (w) => w.string(handle).uint64(offset).string(data));
  }

  async stat(path: string): Promise<Attrs> {
    return (await this.#want(`stat ${path}`, FXP.ATTRS, FXP.STAT, (w) => w.string(path))).attrs();
  }

  async lstat(path: string): Promise<Attrs> {
    return (await this.#want(`lstat ${path}`, FXP.ATTRS, FXP.LSTAT, (w) => w.string(path))).attrs();
  }

  setstat(path: string, attrs: Attrs): Promise<void> {
    return this.#ok(`setstat ${path}`, FXP.SETSTAT, (w) => w.string(path).attrs(attrs));
  }

  fsetstat(handle: Buffer, attrs: Attrs): Promise<void> {
    return this.#ok('fsetstat', FXP.FSETSTAT, (w) => w.string(handle).attrs(attrs));
  }

  /** Names in a directory ('.' and '..' dropped). */
  async list(path: string): Promise<string[]> {
    const handle = (
      await this.#want(`opendir ${path}`, FXP.HANDLE, FXP.OPENDIR, (w) => w.string(path))
    ).string();
    const names: string[] = [];
    try {
      for (;;) {
        const r = await this.request(FXP.READDIR, (w) => w.string(handle));
        if (r.type !== FXP.NAME) break;
        const count = r.reader.uint32();
        for (let i = 0; i < count; i++) {
          const name = r.reader.utf8();
          r.reader.utf8();
          r.reader.attrs();
          if (name !== '.' && name !== '..') names.push(name);
        }
      }
    } finally {
      await this.close(handle).catch(() => undefined);
    }
    return names;
  }

  mkdir(path: string, attrs: Attrs = {}): Promise<void> {
    return this.#ok(`mkdir ${path}`, FXP.MKDIR, (w) => w.string(path).attrs(attrs));
  }

  rmdir(path: string): Promise<void> {
    return this.#ok(`rmdir ${path}`, FXP.RMDIR, (w) => w.string(path));
  }

  remove(path: string): Promise<void> {
    return this.#ok(`remove ${path}`, FXP.REMOVE, (w) => w.string(path));
  }

  /** SFTP v3 RENAME (refuses an existing target). */
  rename(from: string, to: string): Promise<void> {
    return this.#ok(`rename ${from} ${to}`, FXP.RENAME, (w) => w.string(from).string(to));
  }

  posixRename(from: string, to: string): Promise<void> {
    return this.#ok(`posix-rename ${from} ${to}`, FXP.EXTENDED, (w) =>
      w.string('posix-rename@openssh.com').string(from).string(to),
    );
  }

  hardlink(existing: string, link: string): Promise<void> {
    return this.#ok(`hardlink ${link} -> ${existing}`, FXP.EXTENDED, (w) =>
      w.string('hardlink@openssh.com').string(existing).string(link),
    );
  }

  /** OpenSSH's SYMLINK has the arguments the other way round from the draft: target first, then the link. */
  symlink(target: string, link: string): Promise<void> {
    return this.#ok(`symlink ${link} -> ${target}`, FXP.SYMLINK, (w) => w.string(target).string(link));
  }

  async readlink(path: string): Promise<string> {
    const r = await this.#want(`readlink ${path}`, FXP.NAME, FXP.READLINK, (w) => w.string(path));
    r.uint32();
    return r.utf8();
  }

  /** check-file-handle with block size 0: the raw digest of [offset, offset+length) (length 0: to EOF). */
  async checkFileHandle(
    handle: Buffer,
    offset: number,
    length: number,
    algorithm = 'sha256',
  ): Promise<Buffer> {
    const r = await this.#want('check-file-handle', FXP.EXTENDED_REPLY, FXP.EXTENDED, (w) =>
      w.string('check-file-handle').string(handle).string(algorithm).uint64(offset).uint64(length).uint32(0),
    );
    r.utf8();
    r.utf8();
    return r.bytes(r.remaining);
  }

  async checkFileName(path: string, offset = 0, length = 0, algorithm = 'sha256'): Promise<Buffer> {
    const r = await this.#want(`check-file-name ${path}`, FXP.EXTENDED_REPLY, FXP.EXTENDED, (w) =>
      w.string('check-file-name').string(path).string(algorithm).uint64(offset).uint64(length).uint32(0),
    );
    r.utf8();
    r.utf8();
    return r.bytes(r.remaining);
  }

  /** Uploads `data` to `path` (create, truncate) in one WRITE, optionally with OPEN's ATTRS. */
  async put(path: string, data: Buffer, attrs: Attrs = {}): Promise<void> {
    const handle = await this.open(path, FXF.WRITE | FXF.CREAT | FXF.TRUNC, attrs);
    if (data.length > 0) await this.write(handle, 0, data);
    await this.close(handle);
  }

  async get(path: string): Promise<Buffer> {
    const handle = await this.open(path, FXF.READ);
    try {
      return await this.readAll(handle);
    } finally {
      await this.close(handle).catch(() => undefined);
    }
  }

  /** Runs an SSH exec command on a new channel of the same connection (SCP). */
  exec(command: string): Promise<ssh2.ClientChannel> {
    return new Promise((resolve, reject) =>
      this.#conn.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
  }

  end(): void {
    this.#conn.end();
  }
}

/** The outcome of a request that may be refused: value, or the refusal. */
export async function attempt<T>(
  op: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: Error }> {
  try {
    return { ok: true, value: await op() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
  }
}
