// Typed events emitted by the core, the SSH layer and the admin services; audit and alerting subscribe to them.
import type { AdminEvent } from './admin.js';

export type { Actor, AdminAction, AdminEvent } from './admin.js';
export { ACTOR_KINDS, ADMIN_ACTIONS } from './admin.js';

export interface EventBase {
  readonly at: Date;
  readonly sessionId: string;
  readonly username?: string;
  readonly remoteAddress?: string;
}

export interface TransferEvent extends EventBase {
  readonly type: 'transfer';
  readonly direction: 'upload' | 'download';
  readonly protocol: 'sftp' | 'scp';
  readonly path: string;
  readonly bytes: number;
  readonly durationMs: number;
  /** Hex SHA-256 of the whole uploaded content when it was written sequentially from 0 (or resumed). */
  readonly sha256?: string;
  readonly resumedFrom: number;
  readonly completed: boolean;
  /** Why a closed transfer failed ("No space left on device"), path-free; absent when it completed or was dropped. */
  readonly error?: string;
}

export interface FileOperationEvent extends EventBase {
  readonly type: 'file-op';
  readonly protocol: 'sftp' | 'scp';
  /** 'checksum': a check-file read (content derived from a file, so audited like a download). */
  readonly operation:
    | 'delete'
    | 'rename'
    | 'mkdir'
    | 'rmdir'
    | 'setstat'
    | 'symlink'
    | 'hardlink'
    | 'copy'
    | 'checksum';
  readonly path: string;
  readonly target?: string;
  readonly detail?: Readonly<Record<string, unknown>>;
  readonly ok: boolean;
  readonly error?: string;
}

export interface SessionEvent extends EventBase {
  readonly type: 'session';
  readonly phase: 'connect' | 'auth' | 'disconnect';
  readonly detail: Readonly<Record<string, unknown>>;
}

/** The server defending itself: an address banned, an account locked, a limit hit. */
export interface SecurityEvent extends EventBase {
  readonly type: 'security';
  readonly action: 'ban' | 'unban' | 'lockout' | 'limit';
  readonly detail: Readonly<Record<string, unknown>>;
}

export type FerryEvent = TransferEvent | FileOperationEvent | SessionEvent | SecurityEvent | AdminEvent;
