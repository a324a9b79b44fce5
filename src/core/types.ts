// The protocol-neutral file session every front end (SFTP, SCP, later HTTP) calls: virtual paths in, policy applied.
import type { PermissionMap } from '../permission-vocabulary.js';
import type { ByteChunks } from '../util/byte-chunks.js';
import type { PgpPolicies } from '../util/pgp-policy.js';
import type { TransferQuotas } from '../util/transfer-quota.js';

export interface SessionIdentity {
  readonly sessionId: string;
  readonly username: string;
  /** Absolute path of the user's home on the backend; the user's virtual '/' (chroot). */
  readonly homeDir: string;
  readonly permissions: PermissionMap;
  readonly remoteAddress: string;
  /** 'ssh': a hash command over exec (ssh/hash-command.ts). 'https': the web client (web/). 'ftps': the FTPS server (ftp/). 'rule': a rule's file action or retention sweep (session id `rule:<chain>:<delivery>`, automation/rule-session.ts). */
  readonly protocol: 'sftp' | 'scp' | 'ssh' | 'https' | 'ftps' | 'rule';
  /** The user's number in the store; files the server owns are shown with uid/gid VIRTUAL_ID_BASE + this. */
  readonly virtualId?: number;
  /** Disk quota limits as the session started (0: none); absent or both 0: usage is not counted. */
  readonly quota?: { readonly bytes: number; readonly files: number };
  /** Bytes per second this session may upload / download (0 or absent: no limit). */
  readonly rates?: { readonly upload: number; readonly download: number };
  /** Virtual folders mounted in the session's view (each its own root and quota); absent: the home alone. */
  readonly folders?: readonly {
    readonly name: string;
    readonly virtualPath: string;
    readonly root: string;
    readonly quotaBytes: number;
    readonly quotaFiles: number;
  }[];
  /** Bytes the user may upload / download / move in total per UTC day or month (absent or {}: no limit). */
  readonly transferQuotas?: TransferQuotas;
  /**
   * The user's OpenPGP folder policies as the session started, when the front end read the user's effective
   * record anyway (a rule's session does, once per delivery); absent: read at the session's first operation.
   */
  readonly pgpPolicies?: PgpPolicies;
  /** The user's own choice of encrypted storage for new files; absent or null: the server's setting. */
  readonly storageEncryption?: boolean | null;
}

export type FileKind = 'file' | 'directory' | 'symlink' | 'other';

export interface FileStat {
  readonly kind: FileKind;
  /** Full st_mode, type bits included (S_IFREG | 0o644 ...). */
  readonly mode: number;
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  /** Names shown in long listings. */
  readonly owner: string;
  readonly group: string;
  readonly nlink: number;
  /** Seconds since the epoch. */
  readonly atime: number;
  readonly mtime: number;
}

/** Attribute changes; absent fields are left as they are. Times are seconds since the epoch. */
export interface SetAttrs {
  size?: number;
  /** Permission bits only (0o7777); type bits are ignored. */
  mode?: number;
  atime?: number;
  mtime?: number;
  uid?: number;
  gid?: number;
}

export interface OpenMode {
  read: boolean;
  write: boolean;
  append: boolean;
  create: boolean;
  truncate: boolean;
  exclusive: boolean;
  /**
   * A truncating write goes to a hidden partial renamed into place on close even when the session's uploadMode
   * is 'direct': for server-side writers (rule actions) whose output must not appear before it is checked.
   */
  atomic?: boolean;
}

export interface DirEntry {
  readonly name: string;
  readonly stat: FileStat;
}

export interface StatVfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

export type HashAlgorithm = 'sha256' | 'sha512' | 'sha384' | 'sha224' | 'sha1' | 'md5';

export interface FileHandle {
  /** Virtual path the handle was opened with. */
  readonly path: string;
  readonly mode: Readonly<OpenMode>;
  /**
   * Up to `length` bytes at `offset`; an empty buffer at end of file. With `headroom`, the buffer starts
   * with that many spare bytes the caller may overwrite (a reply header), then the data. With `into`, the
   * data lands in that buffer (at least headroom + length bytes, reused by the caller) and a view is returned.
   */
  read(offset: number, length: number, headroom?: number, into?: Buffer): Promise<Buffer>;
  /** Writes all of `data` at `offset` (at the end of file in append mode). */
  write(offset: number, data: ByteChunks): Promise<void>;
  stat(): Promise<FileStat>;
  setstat(attrs: SetAttrs): Promise<void>;
  sync(): Promise<void>;
  /** Hash of [offset, offset+length) (length 0 = to end of file). */
  hash(algorithm: HashAlgorithm, offset: number, length: number): Promise<Buffer>;
  /**
   * check-file: the digest of [offset, offset+length) (length 0 = to end of file), or with blockSize > 0
   * one digest per block. Audited like a download; bounded by the session's hash budget; stops on `signal`.
   */
  checksum(request: ChecksumRequest, options?: { signal?: AbortSignal }): Promise<Buffer[]>;
  /** Completes the transfer (an atomic upload becomes visible under its name here). */
  close(): Promise<void>;
  /** Closes without completing: an atomic upload stays a hidden partial for a resume (what session end does). */
  abort?(): Promise<void>;
}

export interface ChecksumRequest {
  readonly algorithm: HashAlgorithm;
  readonly offset: number;
  readonly length: number;
  /** 0: one digest of the whole range. */
  readonly blockSize: number;
}

export interface DirHandle {
  readonly path: string;
  /** The next batch of entries ('.' and '..' first), or null once the listing is exhausted. */
  read(): Promise<DirEntry[] | null>;
  close(): Promise<void>;
}

export interface FileSession {
  readonly identity: SessionIdentity;
  /** Canonical virtual path; relative paths are taken from '/'; a missing last component is allowed. */
  realpath(path: string): Promise<string>;
  stat(path: string): Promise<FileStat>;
  lstat(path: string): Promise<FileStat>;
  setstat(path: string, attrs: SetAttrs, options?: { followSymlinks?: boolean }): Promise<void>;
  openFile(path: string, mode: OpenMode, attrs?: SetAttrs): Promise<FileHandle>;
  openDir(path: string): Promise<DirHandle>;
  remove(path: string): Promise<void>;
  mkdir(path: string, attrs?: SetAttrs): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** overwrite=false fails with ERR_ALREADY_EXISTS when `to` exists (SFTP v3 rename); true replaces it (POSIX). */
  rename(from: string, to: string, options: { overwrite: boolean }): Promise<void>;
  /** Link text as stored, as a virtual path when it points inside the home. */
  readlink(path: string): Promise<string>;
  symlink(targetPath: string, linkPath: string): Promise<void>;
  hardlink(existingPath: string, newPath: string): Promise<void>;
  statvfs(path: string): Promise<StatVfs>;
  /** Server-side copy between two open handles (copy-data). length 0 = to end of source. */
  copyData(
    source: FileHandle,
    sourceOffset: number,
    length: number,
    target: FileHandle,
    targetOffset: number,
    options?: { signal?: AbortSignal },
  ): Promise<void>;
  /** Ends the session: open handles are closed without completing uploads (partials are kept for resume). */
  close(): Promise<void>;
}

/**
 * A connection's share of a resource counted per connection and per user (budgets.ts implements it).
 * Takes are refused, never queued; what was taken is given back.
 */
export interface BudgetAccount {
  readonly used: number;
  /** Whether `amount` more fits both the connection's and the user's limit. */
  fits(amount: number): boolean;
  /** Takes `amount` if it fits; otherwise false, and onRoom listeners are called once something is given back. */
  tryTake(amount: number): boolean;
  /** Like tryTake, but throws BudgetExceededError naming the limit that was hit. */
  take(amount: number): void;
  give(amount: number): void;
  /** Called asynchronously after a refused tryTake once another account of the user gives back; returns the remover. */
  onRoom(listener: () => void): () => void;
  /** The connection is gone: everything still held goes back. Idempotent. */
  close(): void;
}

/** The accounts of one authenticated connection. */
export interface ConnectionBudgets {
  readonly handles: BudgetAccount;
  readonly replyBytes: BudgetAccount;
  close(): void;
}

/** Per-process budgets: one set of accounts per connection, limits per connection and per user. */
export interface ResourceBudgets {
  openConnection(user: string): ConnectionBudgets;
}

/** What a session draws on beyond its own limits: its connection's budgets, and the connection's lifetime. */
export interface SessionResources {
  /** Open handles, counted per connection and per user (see budgets.ts). */
  readonly handles?: BudgetAccount | undefined;
  /** Aborted when the connection is gone: long work (hashing, copying) stops. */
  readonly signal?: AbortSignal | undefined;
}

export type FileSessionFactory = (identity: SessionIdentity, resources?: SessionResources) => FileSession;

/** Cluster-wide admission of logged-in sessions (admin/cluster-sessions.ts over the store), asked by the SSH and FTPS front ends. */
export interface SessionRegistry {
  /** Records a logged-in session; resolves with the user's open sessions (on all nodes) when the limit refuses it. */
  admit(session: {
    readonly id: string;
    readonly username: string;
    readonly remoteAddress: string;
    readonly client: string | null;
    readonly connectedAt: Date;
    /** 'ssh' (the default) or 'ftps': shown in every node's session list. */
    readonly protocol?: string;
  }): Promise<{ open: number } | undefined>;
  /** The session ended. */
  closed(id: string): void;
}
