// Uploads while the audit trail cannot be written: refused at open, never published or reported done (auditOnFailure).
import { AuditUnavailableError } from '../errors.js';
import type { HealthState } from '../health.js';
import type { Fs, FsCapabilities, FsDir, FsFile, FsOpenFlags, FsStat, FsStatfs } from '../vfs/types.js';

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
export class AuditGatedFs implements Fs {
  readonly admission: UploadAdmission;
  readonly #fs: Fs;

  constructor(fs: Fs, admission: UploadAdmission) {
    this.#fs = fs;
    this.admission = admission;
  }

  open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    if (flags.write) {
      try {
        this.admission.check();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.#fs.open(path, flags, mode);
  }

  stat(path: string): Promise<FsStat> {
    return this.#fs.stat(path);
  }
  lstat(path: string): Promise<FsStat> {
    return this.#fs.lstat(path);
  }
  realpath(path: string): Promise<string> {
    return this.#fs.realpath(path);
  }
  opendir(path: string): Promise<FsDir> {
    return this.#fs.opendir(path);
  }
  mkdir(path: string, options?: { mode?: number; recursive?: boolean }): Promise<void> {
    return this.#fs.mkdir(path, options);
  }
  rmdir(path: string): Promise<void> {
    return this.#fs.rmdir(path);
  }
  unlink(path: string): Promise<void> {
    return this.#fs.unlink(path);
  }
  rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    return this.#fs.rename(from, to, options);
  }
  link(existingPath: string, newPath: string): Promise<void> {
    return this.#fs.link(existingPath, newPath);
  }
  symlink(target: string, path: string): Promise<void> {
    return this.#fs.symlink(target, path);
  }
  readlink(path: string): Promise<string> {
    return this.#fs.readlink(path);
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.#fs.chmod(path, mode);
  }
  utimes(path: string, atime: number, mtime: number, options?: { followSymlinks?: boolean }): Promise<void> {
    return this.#fs.utimes(path, atime, mtime, options);
  }
  statfs(path: string): Promise<FsStatfs> {
    return this.#fs.statfs(path);
  }
  get capabilities(): FsCapabilities | undefined {
    return this.#fs.capabilities;
  }
  async dispose(): Promise<void> {
    await this.#fs.dispose?.();
  }
}

/** The admission an Fs carries: set when uploads are refused on audit failure, else none. */
export function admissionOf(fs: Fs): UploadAdmission | undefined {
  return fs instanceof AuditGatedFs ? fs.admission : undefined;
}
