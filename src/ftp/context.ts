// What a command handler sees of its control connection (control.ts implements it).
import type { SecureContext } from 'node:tls';
import type { PermissionPolicy } from '../core/permissions.js';
import type { ConnectionBudgets, FileSession } from '../core/types.js';
import type { Logger } from '../logger.js';
import type { UserRecord } from '../store/types.js';
import type { FtpsServerOptions } from './options.js';
import type { PassiveListener } from './passive.js';

/** A running data transfer: ABOR stops it, later commands wait for it. */
export interface Transfer {
  readonly done: Promise<void>;
  abort(): void;
}

/** What a running RETR/STOR/APPE/STOU moves, for the API's live-session view. */
export interface TransferActivity {
  readonly direction: 'upload' | 'download';
  /** The file inside the user's home. */
  readonly path: string;
  /** Bytes moved so far by this command (a resumed transfer counts from its offset). */
  bytes: number;
  readonly startedAt: Date;
}

export interface ConnectionHooks {
  /**
   * The login was accepted: admission stops counting it as unauthenticated; false refuses (a session limit, on
   * this process or, in a cluster, on every node).
   */
  readonly authenticated: (user: string) => Promise<boolean>;
}

export interface CommandContext {
  readonly sessionId: string;
  readonly remoteAddress: string;
  readonly options: FtpsServerOptions;
  readonly hooks: ConnectionHooks;
  readonly secureContext: SecureContext;
  readonly localAddress: string;
  log: Logger;
  secure: boolean;
  pbsz: boolean;
  protP: boolean;
  pendingUser: string | undefined;
  user: UserRecord | undefined;
  files: FileSession | undefined;
  /** This connection's share of the per-user budgets (open handles), given back when it ends. */
  budgets: ConnectionBudgets | undefined;
  /** Aborted when the connection is gone: long work in the core (hashing) stops. */
  readonly gone: AbortSignal;
  policy: PermissionPolicy | undefined;
  cwd: string;
  restOffset: number;
  renameFrom: string | undefined;
  passive: PassiveListener | undefined;
  transfer: Transfer | undefined;
  activity: TransferActivity | undefined;
  reply(code: number, text: string | readonly string[]): void;
  close(): void;
  touch(): void;
}

export interface Command {
  /** Allowed before AUTH TLS (FEAT, AUTH, QUIT only). */
  readonly beforeTls?: boolean;
  readonly needsAuth: boolean;
  /** Opens a data connection (needs PROT P). */
  readonly data?: boolean;
  /** Changes files (for the reader of the table; the core checks the user's permission for each change). */
  readonly writes?: boolean;
  readonly needsArg?: boolean;
  readonly handler: (ctx: CommandContext, arg: string) => Promise<void> | void;
}
