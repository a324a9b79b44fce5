// The OpenPGP policy decorator: uploads into encrypt folders are encrypted as they are written, encrypted files
// arriving in decrypt folders are decrypted (or quarantined) when their upload completes.
import posix from 'node:path/posix';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import {
  ENCRYPTED_NAME,
  encryptedSuffix,
  type PgpEncryptPolicy,
  type PgpFolderPolicy,
  type PgpPolicies,
  pgpPolicyFor,
} from '../../util/pgp-policy.js';
import type { Secret } from '../../util/secret.js';
import { ForwardingFs } from '../forwarding-fs.js';
import type { Fs, FsFile, FsOpenFlags } from '../types.js';
import { decryptArrival, type PgpKeySource, type PgpOutcome } from './decrypt-arrival.js';
import { EncryptingFile } from './encrypting-file.js';

export type { PgpKeySource, PgpOutcome } from './decrypt-arrival.js';

/** The core's prefix for an upload in progress (core/virtual-path.ts), renamed to the final name on close. */
const IN_PROGRESS_PREFIX = '.ferry-part.';

export interface PgpFsDeps {
  readonly keys: PgpKeySource;
  /** Reports each encryption, decryption and quarantine (the composition root emits them as events). */
  readonly report: (outcome: PgpOutcome) => Promise<void>;
  readonly log: Logger;
}

function inProgress(path: string): boolean {
  return posix.basename(path).startsWith(IN_PROGRESS_PREFIX);
}

/**
 * One per session. Sequential encryption cannot resume or write out of order: such writes fail the upload
 * (ERR_UNSUPPORTED, nothing published) and a resumed upload restarts from 0. Only opens for writing and
 * renames are intercepted; everything else (listings, downloads of the stored ciphertext) passes through.
 */
export class PgpPolicyFs extends ForwardingFs {
  readonly #deps: PgpFsDeps;
  #policies: Promise<PgpPolicies> | undefined;
  /** Partials being encrypted → the suffix their final name gets. */
  readonly #encrypting = new Map<string, string>();

  constructor(inner: Fs, deps: PgpFsDeps) {
    super(inner);
    this.#deps = deps;
  }

  #policyFor(path: string): Promise<{ folder: string; policy: PgpFolderPolicy } | undefined> {
    this.#policies ??= this.#deps.keys.policies();
    return this.#policies.then((all) => pgpPolicyFor(all, path));
  }

  override async open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    if (!flags.write) return this.inner.open(path, flags, mode);
    const governing = await this.#policyFor(path);
    if (!governing) return this.inner.open(path, flags, mode);
    const { policy } = governing;
    if (policy.mode === 'encrypt') return this.#openEncrypting(path, flags, policy, mode);
    // An atomic upload arrives when its partial is renamed into place (see rename); a direct one
    // (uploadMode 'direct') when the file is closed.
    const file = await this.inner.open(path, flags, mode);
    if (inProgress(path) || !ENCRYPTED_NAME.test(path)) return file;
    return withCloseHook(file, () => this.#arrived(path));
  }

  async #openEncrypting(
    path: string,
    flags: FsOpenFlags,
    policy: PgpEncryptPolicy,
    mode: number | undefined,
  ): Promise<FsFile> {
    const suffix = encryptedSuffix(policy);
    // A partial is renamed (with the suffix) on close; a direct upload gets its stored name now.
    const stored = inProgress(path) ? path : `${path}${suffix}`;
    const { encryptStream } = await import('../../keys/pgp-stream-crypt.js');
    let recipients: string[];
    let signer: Secret<string> | undefined;
    try {
      recipients = await this.#deps.keys.publicKeys(policy.recipients);
      signer = policy.signWith ? await this.#deps.keys.privateKey(policy.signWith) : undefined;
    } catch (err) {
      // A key removed since the policy was set: refuse the upload as a server-side failure, not "no such file".
      this.#deps.log.error(
        { err, path },
        'the OpenPGP policy of this folder names a key Ferry no longer has',
      );
      throw new ConfigError('the OpenPGP policy of this folder cannot be applied', { cause: err });
    }
    // Always from empty: what a partial holds is ciphertext that cannot be continued.
    const inner = await this.inner.open(
      stored,
      { ...flags, read: false, create: true, truncate: true },
      mode,
    );
    if (stored === path) this.#encrypting.set(path, suffix);
    else void this.#report({ phase: 'encrypted', path, target: stored });
    return EncryptingFile.start(inner, (plain) =>
      encryptStream(plain, {
        recipients,
        ...(signer ? { signer } : {}),
        ...(policy.armor ? { armor: true } : {}),
      }),
    );
  }

  override async rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    const suffix = this.#encrypting.get(from);
    if (suffix !== undefined) {
      this.#encrypting.delete(from);
      await this.inner.rename(from, `${to}${suffix}`, options);
      await this.#report({ phase: 'encrypted', path: to, target: `${to}${suffix}` });
      return;
    }
    await this.inner.rename(from, to, options);
    // A completed upload, or a file moved in from elsewhere (or back from quarantine): both arrive here.
    if (ENCRYPTED_NAME.test(to)) await this.#arrived(to);
  }

  override async unlink(path: string): Promise<void> {
    // A failed upload's partial is removed by the core: forget it.
    this.#encrypting.delete(path);
    return this.inner.unlink(path);
  }

  async #arrived(path: string): Promise<void> {
    const governing = await this.#policyFor(path);
    if (governing?.policy.mode !== 'decrypt') return;
    const outcome = await decryptArrival(this.inner, path, governing.policy, this.#deps.keys, this.#deps.log);
    if (outcome.phase === 'quarantined')
      this.#deps.log.warn(
        { path, target: outcome.target, reason: outcome.reason },
        'encrypted file quarantined',
      );
    await this.#report(outcome);
  }

  async #report(outcome: PgpOutcome): Promise<void> {
    try {
      await this.#deps.report(outcome);
    } catch (err) {
      this.#deps.log.error({ err, outcome }, 'could not report an OpenPGP outcome');
    }
  }
}

/** The file, with `after` run once it closed (a direct upload into a decrypt folder is then complete). */
function withCloseHook(file: FsFile, after: () => Promise<void>): FsFile {
  return {
    read: (...a) => file.read(...a),
    write: (...a) => file.write(...a),
    stat: () => file.stat(),
    truncate: (s) => file.truncate(s),
    chmod: (m) => file.chmod(m),
    utimes: (a, m) => file.utimes(a, m),
    sync: () => file.sync(),
    async close() {
      await file.close();
      await after();
    },
    get resolvedPath() {
      return file.resolvedPath;
    },
  };
}
