// What an open file handle gets from its session (policy, events, limits) and what it was opened on.

import type { TransferEvent } from '../events/types.js';
import type { Logger } from '../logger.js';
import type { Fs, FsFile, FsStat } from '../vfs/types.js';
import type { ConcretePermission } from './permissions.js';
import type { Throttle } from './shared-rates.js';
import type { TransferAllowance } from './transfer-allowance.js';
import type { FileHandle, FileStat, OpenMode, SetAttrs } from './types.js';

/** What a handle needs from its session; keeps policy (permissions, events) in one place. */
export interface HandleHost {
  readonly fs: Fs;
  readonly log: Logger;
  toFileStat(stat: FsStat): FileStat;
  /** Throws PermissionDeniedError unless `permission` holds in every one of `dirs`. */
  require(permission: ConcretePermission, dirs: readonly string[]): void;
  /** Settles once the event's listeners are done (the audit record committed); never rejects. */
  emitTransfer(
    fields: Omit<TransferEvent, 'type' | 'at' | 'sessionId' | 'username' | 'remoteAddress' | 'protocol'>,
  ): Promise<void>;
  emitSetstat(path: string, attrs: SetAttrs, error?: unknown): void;
  released(handle: FileHandle): void;
  /** Throws a LimitError when a file may not grow to `size` bytes. */
  checkFileSize(size: number): void;
  /** Bytes one checksum() may hash; out-of-order uploads larger than this get no SHA-256 on close. */
  readonly maxHashBytes: number;
  /** Aborted when the session's connection is gone. */
  readonly signal?: AbortSignal | undefined;
  /** The session's bandwidth limits: client reads and writes wait for their bytes (server-side work does not). */
  readonly throttle?: { readonly upload?: Throttle; readonly download?: Throttle };
  /** The user's transfer quotas: client reads and writes count against them (server-side work does not). */
  readonly transferAllowance?: TransferAllowance | undefined;
  /** Records a check-file read in the audit trail (it reveals content, like a download). */
  emitChecksum(path: string, detail: Readonly<Record<string, unknown>>, error?: unknown): void;
}

export interface OpenedFile {
  readonly path: string;
  readonly mode: OpenMode;
  readonly file: FsFile;
  /** The backend file read and written: the partial for atomic uploads, else the file itself. */
  readonly backendPath: string;
  /** Set for atomic uploads: where the partial goes on close(). */
  readonly finalPath?: string;
  /** Virtual directories whose permissions govern this file (as named, and where symlinks lead). */
  readonly permissionDirs: readonly string[];
  readonly sizeAtOpen: number;
  /** The open created or truncated the file: it is an upload even if nothing is written. */
  readonly createdNew: boolean;
  /** An atomic upload continuing a partial left by an earlier, interrupted one. */
  readonly continuesPartial?: boolean;
  readonly releaseClaim?: () => void;
}
