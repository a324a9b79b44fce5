// Typed events emitted by the core, the SSH layer, the transfer job runner, the server and the admin services;
// audit and alerting subscribe to them.
import type { FerryErrorCode } from '../errors.js';
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
  readonly protocol: 'sftp' | 'scp' | 'ssh' | 'https' | 'ftps' | 'rule';
  readonly path: string;
  readonly bytes: number;
  readonly durationMs: number;
  /** Hex SHA-256 of the whole uploaded content when it was written sequentially from 0 (or resumed). */
  readonly sha256?: string;
  readonly resumedFrom: number;
  readonly completed: boolean;
  /** Why a closed transfer failed ("No space left on device"), path-free; absent when it completed or was dropped. */
  readonly error?: string;
  /** The stable code of `error`: ERR_PERMISSION_DENIED when a pre-operation hook refused the transfer. */
  readonly errorCode?: FerryErrorCode;
}

export interface FileOperationEvent extends EventBase {
  readonly type: 'file-op';
  readonly protocol: 'sftp' | 'scp' | 'ssh' | 'https' | 'ftps' | 'rule';
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
  /** The stable code of the failure (ERR_PERMISSION_DENIED for every refusal); absent when it succeeded. */
  readonly errorCode?: FerryErrorCode;
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

/**
 * Why a job run failed: the FerryError code of the failure, or one of the partner-side reasons a person acts on
 * differently (the partner is down, its key changed, the login was refused, the copy did not verify, stopped).
 */
export type JobErrorCode =
  | FerryErrorCode
  | 'ERR_PARTNER_UNREACHABLE'
  | 'ERR_PARTNER_CONNECTION'
  | 'ERR_PARTNER_LOGIN_FAILED'
  | 'ERR_HOST_KEY_NOT_TRUSTED'
  | 'ERR_HOST_KEY_CHANGED'
  | 'ERR_HOST_KEY_REJECTED'
  | 'ERR_INTEGRITY'
  | 'ERR_ABORTED';

/**
 * A scheduled or manual transfer job run: 'started' once the run lock is taken, then 'succeeded' or 'failed'
 * (after its retries). `sessionId` is `job:<name>:<run id>`.
 */
export interface JobEvent extends EventBase {
  readonly type: 'job';
  readonly phase: 'started' | 'succeeded' | 'failed';
  readonly job: string;
  readonly run: number;
  readonly partner: string;
  readonly direction: 'pull' | 'push';
  readonly trigger: 'manual' | 'schedule' | 'catch-up' | 'rule';
  /** Present once the run ended. */
  readonly attempts?: number;
  readonly files?: number;
  readonly bytes?: number;
  readonly durationMs?: number;
  /** Why a failed run failed, as a stable code (ERR_PARTNER_UNREACHABLE, ERR_HOST_KEY_CHANGED, ...) and text. */
  readonly errorCode?: JobErrorCode;
  readonly error?: string;
}

/** The server process itself: started, stopping, its store failing, its data dir running out of space. */
export type SystemEvent = EventBase & { readonly type: 'system' } & (
    | { readonly phase: 'started'; readonly detail: Readonly<Record<string, unknown>> }
    | { readonly phase: 'stopping'; readonly reason: string }
    | { readonly phase: 'store-error'; readonly errorCode: string; readonly error: string }
    | { readonly phase: 'store-recovered' }
    | {
        readonly phase: 'disk-space-low';
        readonly path: string;
        /** Free space left for unprivileged writers, as a percentage of the file system's size. */
        readonly freePercent: number;
        readonly freeBytes: number;
        readonly thresholdPercent: number;
      }
    | { readonly phase: 'disk-space-ok'; readonly path: string; readonly freePercent: number }
    | {
        /** A retention rule swept a folder: what went (or, in a dry run, would go), for a report by mail or webhook. */
        readonly phase: 'retention-swept';
        readonly rule: string;
        readonly path: string;
        readonly dryRun: boolean;
        readonly removed: number;
        readonly bytes: number;
        readonly kept: number;
        readonly failed: number;
        /** The first names removed (at most 50), and the first errors. */
        readonly names: readonly string[];
        readonly errors: readonly string[];
      }
    | {
        /** A key in the Key Manager expires within the warning period (checked daily by every serving process). */
        readonly phase: 'key-expiring';
        readonly keyKind: 'pgp';
        readonly keyName: string;
        readonly fingerprint: string;
        readonly expiresAt: Date;
        readonly daysLeft: number;
      }
  );

/**
 * An OpenPGP folder policy at work (vfs/pgp/): an upload stored encrypted, an encrypted arrival decrypted (and
 * verified), or one refused and moved to quarantine (`reason`: malformed, not-for-us, integrity, unsigned,
 * bad-signature, no-key, io). `path` is the file as uploaded, `target` where it is now.
 */
export interface PgpEvent extends EventBase {
  readonly type: 'pgp';
  readonly phase: 'encrypted' | 'decrypted' | 'quarantined';
  /** 'sftp-client', 'ftps-client': a pull job's decryption (sessionId `job:<name>:<run>`). */
  readonly protocol: 'sftp' | 'scp' | 'ssh' | 'https' | 'ftps' | 'rule' | 'sftp-client' | 'ftps-client';
  readonly path: string;
  readonly target: string;
  /** Fingerprint of the verified signer (decrypt folders with `verify:`). */
  readonly signer?: string;
  readonly reason?: string;
  readonly error?: string;
}

export type FerryEvent =
  | TransferEvent
  | FileOperationEvent
  | SessionEvent
  | SecurityEvent
  | JobEvent
  | SystemEvent
  | PgpEvent
  | AdminEvent;
