// The quotas (disk and transfer), transfer rates and storage encryption a user's file session carries, the same whichever front end opened it: no protocol
// (SFTP, SCP, FTPS, the web client) may be a way around them.
import type { TransferQuotas } from '../util/transfer-quota.js';
import type { SessionIdentity } from './types.js';

export interface LimitedAccount {
  readonly quota?: { readonly limitBytes: number; readonly limitFiles: number } | undefined;
  readonly uploadRate?: number | undefined;
  readonly downloadRate?: number | undefined;
  readonly folders?: SessionIdentity['folders'];
  readonly transferQuotas?: TransferQuotas | undefined;
  readonly storageEncryption?: boolean | null | undefined;
}

export function sessionLimitsOf(
  user: LimitedAccount,
): Pick<SessionIdentity, 'quota' | 'rates' | 'folders' | 'transferQuotas' | 'storageEncryption'> {
  return {
    // How the home stores new files travels the same way, so no front end stores them otherwise.
    ...(typeof user.storageEncryption === 'boolean' ? { storageEncryption: user.storageEncryption } : {}),
    // The virtual folders the session mounts (each with its own quota) travel with the limits every front end spreads.
    ...(user.folders && user.folders.length > 0 ? { folders: user.folders } : {}),
    ...(user.transferQuotas && Object.keys(user.transferQuotas).length > 0
      ? { transferQuotas: user.transferQuotas }
      : {}),
    ...(user.quota ? { quota: { bytes: user.quota.limitBytes, files: user.quota.limitFiles } } : {}),
    rates: { upload: user.uploadRate ?? 0, download: user.downloadRate ?? 0 },
  };
}
