// OpenPGP keys for encryption at rest and for partners: generated or imported, private halves sealed.
import { FerryError } from '../errors.js';
import type { PgpKeyType } from '../keys/pgp.js';
import type { MasterKey } from '../keys/sealing.js';
import type { PgpKeyRecord, PgpKeyRepository } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { validateKeyName } from './client-keys.js';

const SEAL_LABEL = 'pgp-key';
/** OpenPGP is loaded when a key is made or read: every other command (and the server) starts faster without it. */
const loadPgp = () => import('../keys/pgp.js');

export class PgpKeyManager {
  constructor(
    private readonly repo: PgpKeyRepository,
    private readonly master: MasterKey,
  ) {}

  list(): Promise<PgpKeyRecord[]> {
    return this.repo.list();
  }

  async get(name: string): Promise<PgpKeyRecord> {
    const key = await this.repo.get(name);
    if (!key) throw new FerryError('ERR_NOT_FOUND', `no OpenPGP key named ${name}`);
    return key;
  }

  /**
   * The key a policy or job names: its name, its full fingerprint (40 hex digits, any case, spaces allowed as
   * `gpg --fingerprint` prints them) or its long key id (16 hex digits, what `ferry keys pgp list` prints).
   */
  async resolve(ref: string): Promise<PgpKeyRecord> {
    const byName = await this.repo.get(ref);
    if (byName) return byName;
    const hex = ref.replace(/\s+/g, '').replace(/^0x/i, '').toUpperCase();
    if (/^[0-9A-F]{40}$/.test(hex) || /^[0-9A-F]{16}$/.test(hex)) {
      const match = (await this.repo.list()).filter((k) =>
        hex.length === 40 ? k.fingerprint === hex : k.keyId === hex,
      );
      if (match.length === 1) return match[0]!;
      if (match.length > 1)
        throw new FerryError('ERR_INVALID_ARGUMENT', `${ref} names ${match.length} keys; use the key name`);
    }
    throw new FerryError(
      'ERR_NOT_FOUND',
      `no OpenPGP key named ${ref} (give its name, fingerprint or key id)`,
    );
  }

  /** The unsealed private half of the key with this fingerprint. */
  async privateArmoredOf(key: PgpKeyRecord): Promise<Secret<string>> {
    if (!key.privateSealed)
      throw new FerryError('ERR_NOT_FOUND', `OpenPGP key ${key.name} has no private half`);
    return new Secret(this.master.open(key.privateSealed, SEAL_LABEL).reveal().toString('utf8'));
  }

  async #refuseDuplicateName(name: string): Promise<void> {
    validateKeyName(name);
    if (await this.repo.get(name))
      throw new FerryError('ERR_ALREADY_EXISTS', `an OpenPGP key named ${name} exists`);
  }

  async generate(options: {
    name: string;
    userName?: string;
    email: string;
    type?: PgpKeyType;
    expiresInDays?: number;
  }): Promise<PgpKeyRecord> {
    await this.#refuseDuplicateName(options.name);
    const { generatePgpKey } = await loadPgp();
    const key = await generatePgpKey({
      name: options.userName ?? options.name,
      email: options.email,
      type: options.type,
      expiresInDays: options.expiresInDays,
    });
    return this.repo.add({
      name: options.name,
      fingerprint: key.fingerprint,
      keyId: key.keyId,
      userIds: key.userIds,
      algorithm: key.algorithm,
      createdAt: key.created,
      expiresAt: key.expires,
      publicArmored: key.publicArmored,
      privateSealed: this.master.seal(Buffer.from(key.privateArmored.reveal()), SEAL_LABEL),
    });
  }

  /** Imports an armored or binary key, public or private (a protected private key needs its passphrase). */
  async import(name: string, data: Buffer, passphrase?: Secret<string>): Promise<PgpKeyRecord> {
    await this.#refuseDuplicateName(name);
    const text = data.includes('-----BEGIN PGP') ? data.toString('utf8') : new Uint8Array(data);
    const { readPgpKey } = await loadPgp();
    const key = await readPgpKey(text, passphrase);
    // Policies and jobs name keys by fingerprint: one fingerprint, one key.
    const same = (await this.repo.list()).find((k) => k.fingerprint === key.fingerprint);
    if (same)
      throw new FerryError(
        'ERR_ALREADY_EXISTS',
        `OpenPGP key ${key.fingerprint} is already stored as ${same.name}${key.hasPrivate && !same.privateSealed ? ' (public only: remove it, then import the private key)' : ''}`,
      );
    if (key.hasPrivate && !key.decrypted) {
      throw new FerryError(
        'ERR_INVALID_ARGUMENT',
        'this private key is passphrase-protected: give the passphrase (--passphrase-stdin) so Ferry can use it unattended',
      );
    }
    return this.repo.add({
      name,
      fingerprint: key.fingerprint,
      keyId: key.keyId,
      userIds: key.userIds,
      algorithm: key.algorithm,
      createdAt: key.created,
      expiresAt: key.expires,
      publicArmored: key.publicArmored,
      privateSealed: key.privateArmored
        ? this.master.seal(Buffer.from(key.privateArmored.reveal()), SEAL_LABEL)
        : null,
    });
  }

  async privateArmored(name: string): Promise<Secret<string>> {
    return this.privateArmoredOf(await this.get(name));
  }

  async remove(name: string): Promise<void> {
    if (!(await this.repo.remove(name)))
      throw new FerryError('ERR_NOT_FOUND', `no OpenPGP key named ${name}`);
  }
}
