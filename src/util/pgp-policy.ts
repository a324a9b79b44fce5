// Per-folder OpenPGP policies of a user (stored on the user, enforced by the vfs/pgp decorator) and their spelling.
import posix from 'node:path/posix';

/** Uploads into the folder are stored as an OpenPGP message to `recipients` (optionally signed). */
export interface PgpEncryptPolicy {
  readonly mode: 'encrypt';
  /** Key references as given (names, key ids or fingerprints); stored as 40-hex upper-case fingerprints. */
  readonly recipients: readonly string[];
  readonly signWith?: string;
  /** ASCII armor instead of binary packets. */
  readonly armor?: boolean;
  /** Appended to the uploaded name; '' keeps the name. Default '.pgp' ('.asc' with armor). */
  readonly suffix?: string;
  /**
   * Downloads of the stored messages serve their plaintext (Ferry holds a recipient's private half), and
   * listings show the plaintext size recorded when the file was encrypted.
   */
  readonly decryptOnDownload?: boolean;
}

/** `*.pgp`, `*.gpg` and `*.asc` files arriving in the folder are decrypted into it; failures are quarantined. */
export interface PgpDecryptPolicy {
  readonly mode: 'decrypt';
  /** Keys whose private halves may decrypt; empty: every Ferry key that has one. */
  readonly decryptWith?: readonly string[];
  /** When set, the message must carry a valid signature by one of these keys. */
  readonly verifyWith?: readonly string[];
  /** Where failed files are moved (a folder in the user's home). Default '/quarantine'. */
  readonly quarantine?: string;
}

export type PgpFolderPolicy = PgpEncryptPolicy | PgpDecryptPolicy;
/** Virtual folder (absolute, normalised) → its policy; the policy covers the folder and everything below it. */
export type PgpPolicies = Readonly<Record<string, PgpFolderPolicy>>;

export const DEFAULT_QUARANTINE = '/quarantine';
export const ENCRYPTED_NAME = /\.(pgp|gpg|asc)$/i;

/** The spec string of a stored policy, as `users show` prints it and `--pgp` accepts it. */
export function formatPgpPolicy(folder: string, policy: PgpFolderPolicy): string {
  if (policy.mode === 'encrypt') {
    const parts = [`encrypt:${policy.recipients.join(',')}`];
    if (policy.signWith) parts.push(`sign:${policy.signWith}`);
    if (policy.armor) parts.push('armor');
    if (policy.suffix !== undefined) parts.push(`suffix:${policy.suffix === '' ? 'none' : policy.suffix}`);
    if (policy.decryptOnDownload) parts.push('decrypt-on-download');
    return `${folder}=${parts.join(';')}`;
  }
  const parts = [policy.decryptWith?.length ? `decrypt:${policy.decryptWith.join(',')}` : 'decrypt'];
  if (policy.verifyWith?.length) parts.push(`verify:${policy.verifyWith.join(',')}`);
  if (policy.quarantine) parts.push(`quarantine:${policy.quarantine}`);
  return `${folder}=${parts.join(';')}`;
}

/** The suffix an encrypt policy appends to uploaded names. */
export function encryptedSuffix(policy: PgpEncryptPolicy): string {
  return policy.suffix ?? (policy.armor ? '.asc' : '.pgp');
}

/** The policy governing `path` (a file's path): the one of its nearest folder that has one. */
export function pgpPolicyFor(
  policies: PgpPolicies | undefined,
  path: string,
): { folder: string; policy: PgpFolderPolicy } | undefined {
  if (!policies) return undefined;
  let dir = posix.dirname(path);
  for (;;) {
    const policy = policies[dir];
    if (policy) return { folder: dir, policy };
    if (dir === '/') return undefined;
    dir = posix.dirname(dir);
  }
}
