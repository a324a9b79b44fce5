// A running server's host keys: promotion after the grace period, re-reading from the store, the audit signer that follows them.
import { systemActor } from './admin/actor.js';
import { hostKeyAuditSigner } from './audit/signer.js';
import type { AppContext } from './context.js';
import { type HostKeyMaterial, presentedHostKeys } from './key-manager/host-keys.js';
import type { Logger } from './logger.js';

/** Promotes the pending host keys whose grace period is over, each recorded in the audit trail. */
export async function promoteDueHostKeys(ctx: AppContext, graceDays: number, log: Logger): Promise<void> {
  for (const key of await ctx.admin.keys.host.promoteDue(systemActor(), graceDays)) {
    log.info({ hostKey: key.id, sha256: key.sha256, graceDays }, 'host key promoted after its grace period');
  }
}

/**
 * Audit checkpoints are signed with the presented Ed25519 host key, so an auditor can check them against the
 * fingerprint clients already trust; never a pending key. Without one, `whenNone` says whether the signer the
 * writer has stays (at start: the writer may have loaded one itself) or goes (after a rotation that left no
 * presented Ed25519 key). Returns false when no such key is presented.
 */
export function signAuditWithPresentedKey(
  ctx: AppContext,
  keys: readonly HostKeyMaterial[],
  whenNone: 'keep' | 'clear',
): boolean {
  const key = presentedHostKeys(keys).find((k) => k.algorithm === 'ssh-ed25519');
  if (key || whenNone === 'clear') ctx.audit.useSigner(key ? hostKeyAuditSigner(key) : undefined);
  return key !== undefined;
}

/** What a key changes in: the fingerprint, the state and its date, the certificate (stored or decrypted alike). */
function keyStates(
  keys: readonly (Pick<HostKeyMaterial, 'sha256' | 'activatedAt' | 'certificate'> & { state: string })[],
): string {
  return keys
    .map(
      (k) =>
        `${k.sha256}:${k.state}:${k.activatedAt?.getTime() ?? ''}:${k.certificate?.toString('base64') ?? ''}`,
    )
    .join(',');
}

/**
 * Keys are shared through the store (several workers, several nodes), changed by the CLI or the API: the returned
 * function promotes keys whose grace period is over, re-reads the host keys and, when they changed, hands them
 * to `present` (the SSH server announces and presents them to new connections) and moves the audit signer to the
 * newly presented key. True when something changed.
 */
export function hostKeyReloader(options: {
  readonly ctx: AppContext;
  readonly graceDays: number;
  readonly initial: HostKeyMaterial[];
  readonly present: (keys: HostKeyMaterial[]) => void;
  readonly log: Logger;
}): () => Promise<boolean> {
  const { ctx, log } = options;
  let current = keyStates(options.initial);
  return async () => {
    await promoteDueHostKeys(ctx, options.graceDays, log);
    // Compared as stored, and decrypted only on a change: decrypting and parsing every key at each poll (every
    // few seconds, in every worker) cost ~1 ms of CPU a second while nothing changed.
    const hostKeys = ctx.hostKeys;
    const records = await hostKeys.liveRecords();
    const states = keyStates(records);
    if (states === current) return false;
    const fresh = hostKeys.materialOf(records);
    options.present(fresh);
    current = states;
    // After a rotation, checkpoints are signed with the new key (verify trusts retired keys too).
    if (!signAuditWithPresentedKey(ctx, fresh, 'clear'))
      log.warn('no presented Ed25519 host key: audit checkpoints are not signed any more');
    return true;
  };
}
