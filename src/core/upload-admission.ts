// Uploads while the audit trail cannot be written: refused at open, never published or reported done (auditOnFailure).
import { AuditUnavailableError } from '../errors.js';
import type { HealthState } from '../health.js';
import { ForwardingFs } from '../vfs/forwarding-fs.js';
import type { Fs, FsFile, FsOpenFlags } from '../vfs/types.js';

/** 'refuse-uploads' (default): no upload starts, completes or reports success without its audit record. */
export type AuditFailurePolicy = 'refuse-uploads' | 'continue';

/** Asks the process health whether the audit store can write; only consulted under 'refuse-uploads'. */
export class UploadAdmission {
  readonly #health: HealthState;

  constructor(health: HealthState) {
    this.#health = health;
  }

  /** Throws AuditUnavailableError while the audit store is degraded. */
  check(): void {
    const audit = this.#health.get('audit');
    if (!audit.healthy) throw new AuditUnavailableError(undefined, { cause: audit.reason });
  }

  /**
   * Call before awaiting an upload's audit record; the function returned throws if any audit write failed
   * since. Records are committed in batches one after another, so a failure in between is most likely
   * this record's own; when it was another's, the store was failing anyway and "not done" is the safe answer.
   */
  watch(): () => void {
    const before = this.#health.get('audit').failures;
    return () => {
      const audit = this.#health.get('audit');
      if (audit.failures !== before) {
        throw new AuditUnavailableError('The audit record of this upload could not be written', {
          cause: audit.reason,
        });
      }
    };
  }
}

/**
 * An Fs that refuses every open for writing while uploads are refused: the check sits below the core so
 * SFTP, SCP and server-side copies all pass it before anything is created or truncated. The handle finds
 * the admission here too (`admissionOf`) to hold back publishing and success on close.
 */
export class AuditGatedFs extends ForwardingFs {
  readonly admission: UploadAdmission;

  constructor(fs: Fs, admission: UploadAdmission) {
    super(fs);
    this.admission = admission;
  }

  override open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    if (flags.write) {
      try {
        this.admission.check();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.inner.open(path, flags, mode);
  }
}

/** The admission an Fs carries: set when uploads are refused on audit failure, else none. */
export function admissionOf(fs: Fs): UploadAdmission | undefined {
  return fs instanceof AuditGatedFs ? fs.admission : undefined;
}
