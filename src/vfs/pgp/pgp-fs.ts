// The OpenPGP policy decorator: uploads into encrypt folders are encrypted as they are written, encrypted files
// arriving in decrypt folders are decrypted (or quarantined) when their upload completes.
import posix from 'node:path/posix';
import { ConfigError, FerryError, UnsupportedError } from '../../errors.js';
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
import { withFields } from '../../util/with-fields.js';
import { ForwardingFs } from '../forwarding-fs.js';
import type { Fs, FsDir, FsFile, FsOpenFlags, FsStat } from '../types.js';
import { decryptArrival, type PgpKeySource, type PgpOutcome } from './decrypt-arrival.js';
import { DecryptingFile, decryptWith } from './decrypting-file.js';
import { encryptFile } from './encrypt-file.js';
import { EncryptingFile } from './encrypting-file.js';
import {
  forgetPlainSize,
  plainSizeListing,
  plainSizeOf,
  recordPlainSize,
  withPlainSize,
} from './plain-size.js';
import { SeipdEncryptingFile } from './seipd-encrypting-file.js';
import { ThreadedSeipdFile } from './threaded-seipd-file.js';

export type { PgpKeySource, PgpOutcome } from './decrypt-arrival.js';

/** The core's prefix for an upload in progress (core/virtual-path.ts), renamed to the final name on close. */
const IN_PROGRESS_PREFIX = '.ferry-part.';

export interface PgpFsDeps {
  readonly keys: PgpKeySource;
  /** Reports each encryption, decryption and quarantine (the composition root emits them as events). */
  readonly report: (outcome: PgpOutcome) => Promise<void>;
  readonly log: Logger;
}

/** Direct uploads remembered per session for their removal after a failure (#storedAs). */
const MAX_STORED_AS = 256;

function inProgress(path: string): boolean {
  return posix.basename(path).startsWith(IN_PROGRESS_PREFIX);
}

/**
 * One per session. Sequential encryption cannot resume or write out of order: such writes fail the upload
 * (ERR_UNSUPPORTED, nothing published) and a resumed upload restarts from 0. Opens, renames and unlinks are
 * intercepted, and in decrypt-on-download folders stat, lstat and listings (plaintext sizes); everything else
 * passes through, and for users without policies everything does.
 */
export class PgpPolicyFs extends ForwardingFs {
  readonly #deps: PgpFsDeps;
  #policies: Promise<PgpPolicies> | undefined;
  /** Partials being encrypted → the suffix their final name gets, the file, its policy. */
  readonly #encrypting = new Map<
    string,
    {
      suffix: string;
      file: EncryptingFile | SeipdEncryptingFile | ThreadedSeipdFile;
      policy: PgpEncryptPolicy;
    }
  >();

  /**
   * Direct uploads (no partial) encrypted under another name: the client's path → the stored message. The core
   * removes a failed upload by the client's path (discardIncomplete), which must remove the message then. Kept
   * past the close (a failure the file never saw, an exceeded quota, still closes it cleanly), so bounded.
   */
  readonly #storedAs = new Map<string, string>();

  constructor(inner: Fs, deps: PgpFsDeps) {
    super(inner);
    this.#deps = deps;
  }

  /**
   * The policy governing `path`. The user's policies are read once per session; if the store cannot be read,
   * writes fail (an encrypt folder must never receive plaintext) and reads go on as if no policy applied
   * (listings and downloads keep working, showing stored sizes and bytes).
   */
  async #policyFor(
    path: string,
    forWrite = false,
  ): Promise<{ folder: string; policy: PgpFolderPolicy } | undefined> {
    this.#policies ??= this.#deps.keys.policies();
    try {
      return pgpPolicyFor(await this.#policies, path);
    } catch (err) {
      this.#policies = undefined; // asked again next time
      if (forWrite) throw err;
      this.#deps.log.warn({ err, path }, 'OpenPGP folder policies unreadable: served as stored');
      return undefined;
    }
  }

  /** The encrypt policy with decrypt-on-download governing the stored message at `path`, if any. */
  async #servesPlaintext(path: string): Promise<PgpEncryptPolicy | undefined> {
    const governing = await this.#policyFor(path);
    const policy = governing?.policy;
    if (policy?.mode !== 'encrypt' || !policy.decryptOnDownload || inProgress(path)) return undefined;
    const suffix = encryptedSuffix(policy);
    return suffix === '' || path.endsWith(suffix) ? policy : undefined;
  }

  override async stat(path: string): Promise<FsStat> {
    const stat = await this.inner.stat(path);
    return (await this.#servesPlaintext(path)) ? withPlainSize(this.inner, path, stat) : stat;
  }

  override async lstat(path: string): Promise<FsStat> {
    const stat = await this.inner.lstat(path);
    return (await this.#servesPlaintext(path)) ? withPlainSize(this.inner, path, stat) : stat;
  }

  override async opendir(path: string): Promise<FsDir> {
    const dir = await this.inner.opendir(path);
    const governing = await this.#policyFor(posix.join(path, 'x'));
    const policy = governing?.policy;
    if (policy?.mode !== 'encrypt' || !policy.decryptOnDownload) return dir;
    const suffix = encryptedSuffix(policy);
    return plainSizeListing(this.inner, dir, path, (name) => !inProgress(name) && name.endsWith(suffix));
  }

  override async open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    if (!flags.write) {
      const policy = await this.#servesPlaintext(path);
      return policy ? this.#openDecrypting(path, flags, policy, mode) : this.inner.open(path, flags, mode);
    }
    const governing = await this.#policyFor(path, true);
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
      withFields(flags, { read: false, create: true, truncate: true }),
      mode,
    );
    let file: EncryptingFile | SeipdEncryptingFile | ThreadedSeipdFile;
    if (signer || policy.armor) {
      const { encryptStream } = await import('../../keys/pgp-stream-crypt.js');
      file = EncryptingFile.start(inner, (plain) =>
        encryptStream(plain, {
          recipients,
          ...(signer ? { signer } : {}),
          ...(policy.armor ? { armor: true } : {}),
        }),
      );
    } else {
      // Unsigned binary messages (the common case) skip openpgp.js's stream stages: see SeipdWriter. On local
      // storage a thread of their own seals them (ThreadedSeipdFile); elsewhere this thread does.
      try {
        const { SeipdWriter } = await import('../../keys/pgp-seipd-writer.js');
        const begin = await SeipdWriter.begin(recipients);
        file =
          (await ThreadedSeipdFile.start(inner, begin)) ??
          (await SeipdEncryptingFile.start(inner, {
            head: begin.head,
            writer: new SeipdWriter(begin.sessionKey),
          }));
      } catch (err) {
        await inner.close().catch(() => undefined);
        await this.inner.unlink(stored).catch(() => undefined);
        throw err;
      }
    }
    if (stored === path) {
      this.#encrypting.set(path, { suffix, file, policy });
      return file;
    }
    void this.#report({ phase: 'encrypted', path, target: stored });
    this.#storedAs.delete(path);
    this.#storedAs.set(path, stored);
    if (this.#storedAs.size > MAX_STORED_AS) this.#storedAs.delete(this.#storedAs.keys().next().value!);
    return withCloseHook(file, () => this.#stored(stored, file, policy));
  }

  /** A message just stored: its plaintext size is recorded where downloads decrypt. */
  async #stored(
    path: string,
    file: EncryptingFile | SeipdEncryptingFile | ThreadedSeipdFile,
    policy: PgpEncryptPolicy,
  ): Promise<void> {
    if (!policy.decryptOnDownload) return;
    await recordPlainSize(this.inner, path, file.plaintextSize).catch((err: unknown) =>
      this.#deps.log.warn(
        { err, path },
        'could not record the plaintext size; listings show the stored size',
      ),
    );
  }

  async #openDecrypting(
    path: string,
    flags: FsOpenFlags,
    policy: PgpEncryptPolicy,
    mode: number | undefined,
  ): Promise<FsFile> {
    let keys: Secret<string>[];
    try {
      keys = await this.#deps.keys.decryptionKeys(policy.recipients);
    } catch (err) {
      this.#deps.log.error({ err, path }, 'no private key of this folder to decrypt a download with');
      throw new ConfigError('the OpenPGP policy of this folder cannot be applied', { cause: err });
    }
    const inner = await this.inner.open(path, flags, mode);
    try {
      const plain = await plainSizeOf(this.inner, path, (await inner.stat()).size);
      return new DecryptingFile(inner, decryptWith(keys), plain);
    } catch (err) {
      await inner.close();
      throw err;
    }
  }

  override async rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    const encrypted = this.#encrypting.get(from);
    if (encrypted !== undefined) {
      this.#encrypting.delete(from);
      const target = `${to}${encrypted.suffix}`;
      await this.inner.rename(from, target, options);
      await this.#stored(target, encrypted.file, encrypted.policy);
      await this.#report({ phase: 'encrypted', path: to, target });
      return;
    }
    const into = await this.#policyFor(to, true);
    if (into?.policy.mode === 'encrypt' && (await this.#policyFor(from, true))?.folder !== into.folder) {
      await this.#encryptMovedIn(from, to, into.policy, options);
      return;
    }
    await this.inner.rename(from, to, options);
    // A completed upload, or a file moved in from elsewhere (or back from quarantine): both arrive here.
    if (ENCRYPTED_NAME.test(to)) await this.#arrived(to);
  }

  /** A file moved into an encrypt folder from elsewhere is stored there encrypted, like an upload. */
  async #encryptMovedIn(
    from: string,
    to: string,
    policy: PgpEncryptPolicy,
    options: { noReplace?: boolean } | undefined,
  ): Promise<void> {
    const target = `${to}${encryptedSuffix(policy)}`;
    const source = await this.inner.stat(from);
    if (source.kind !== 'file')
      throw new UnsupportedError('Only files can be moved into a folder that encrypts what arrives');
    if (options?.noReplace && (await this.inner.lstat(target).catch(() => undefined)))
      throw new FerryError('ERR_ALREADY_EXISTS', 'File exists');
    await encryptFile(this.inner, from, target, this.#deps.keys, {
      encryptTo: policy.recipients,
      ...(policy.signWith ? { signWith: policy.signWith } : {}),
      ...(policy.armor ? { armor: true } : {}),
    });
    await this.inner.unlink(from);
    if (policy.decryptOnDownload)
      await recordPlainSize(this.inner, target, source.size).catch((err: unknown) =>
        this.#deps.log.warn({ err, path: target }, 'could not record the plaintext size'),
      );
    await this.#report({ phase: 'encrypted', path: to, target });
  }

  /** A hard link would put the file's plaintext into an encrypt folder under a second name: refused. */
  override async link(existingPath: string, newPath: string): Promise<void> {
    if ((await this.#policyFor(newPath, true))?.policy.mode === 'encrypt')
      throw new UnsupportedError('Hard links cannot be made in a folder that encrypts what arrives');
    return this.inner.link(existingPath, newPath);
  }

  override async unlink(path: string): Promise<void> {
    // A failed upload's partial is removed by the core: forget it.
    this.#encrypting.delete(path);
    const stored = this.#storedAs.get(path);
    if (stored !== undefined) {
      // The client's name of a direct upload stored as `stored`: nothing else is there to remove.
      this.#storedAs.delete(path);
      if (
        !(await this.inner.lstat(path).then(
          () => true,
          () => false,
        ))
      )
        return this.inner.unlink(stored);
    }
    await this.inner.unlink(path);
    if (await this.#servesPlaintext(path)) await forgetPlainSize(this.inner, path);
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
