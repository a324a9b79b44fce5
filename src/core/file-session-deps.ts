// What a file session is built from: the events, the logger, each session's storage, limits and the services
// the composition root shares between sessions (hooks, cluster claims, throttles, transfer quotas).
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { Fs } from '../vfs/types.js';
import type { ActiveTransfers } from './active-transfers.js';
import type { HandleHost } from './handle-host.js';
import type { PreOperationGate } from './pre-operation.js';
import type { TransferAllowance } from './transfer-allowance.js';
import type { SessionIdentity } from './types.js';
import type { ClusterUploadClaims } from './upload-lock.js';

export interface FileSessionDeps {
  events: EventBus;
  logger: Logger;
  /**
   * The storage of one session, rooted at the user's home: '/' is the home, and the backend (for the
   * local disk, the kernel) keeps every path, '..' and symlink inside it. Called once per session.
   */
  fs: (identity: SessionIdentity) => Fs;
  /** maxFileSize: largest size a write, resize or copy may give a file (0: no limit). */
  limits?: { maxOpenHandles?: number; maxPathLength?: number; maxFileSize?: number; maxHashBytes?: number };
  /** 'atomic' (default): uploads go to a hidden partial renamed into place on close. */
  uploadMode?: 'atomic' | 'direct';
  /** Asked before every upload, download and delete (pre-operation hooks); read each time, absent = allow. */
  preOperation?: () => PreOperationGate | undefined;
  /** Cluster mode: partials claimed on every node (read at each claim; absent = this process only). */
  clusterClaims?: () => ClusterUploadClaims | undefined;
  /** Where each session says what it is moving now (GET /api/sessions). */
  transfers?: ActiveTransfers;
  /** The bandwidth throttles of a session: the user's rates shared by all its sessions, the server's caps. */
  throttles?: (identity: SessionIdentity) => HandleHost['throttle'];
  /** The session's transfer quotas (absent or undefined: none counted). */
  transferAllowance?: (identity: SessionIdentity) => TransferAllowance | undefined;
}
