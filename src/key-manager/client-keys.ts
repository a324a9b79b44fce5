// Key pairs Ferry keeps to log in to partners' servers, private halves sealed with the master key.
import { FerryError, InvalidArgumentError } from '../errors.js';
import {
  exportPrivateKey,
  generateSshKeyPair,
  type PrivateKeyFormat,
  parsePrivateKey,
  type SshKeyPair,
  type SshKeyType,
} from '../keys/private-keys.js';
import type { MasterKey } from '../keys/sealing.js';
import type { ClientKeyRecord, ClientKeyRepository } from '../store/types.js';
import type { Secret } from '../util/secret.js';

const SEAL_LABEL = 'client-key';
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validateKeyName(name: string): string {
  if (!KEY_NAME.test(name)) {
    throw new InvalidArgumentError(
      `invalid key name '${name.slice(0, 40)}': 1-64 letters, digits, '_', '.', '-'`,
    );
  }
  return name;
}

export class ClientKeyManager {
  constructor(
    private readonly repo: ClientKeyRepository,
    private readonly master: MasterKey,
  ) {}

  list(): Promise<ClientKeyRecord[]> {
    return this.repo.list();
  }

  async get(name: string): Promise<ClientKeyRecord> {
    const key = await this.repo.get(name);
    if (!key) throw new FerryError('ERR_NOT_FOUND', `no client key named ${name}`);
    return key;
  }

  async #store(name: string, pair: SshKeyPair): Promise<ClientKeyRecord> {
    validateKeyName(name);
    if (await this.repo.get(name))
      throw new FerryError('ERR_ALREADY_EXISTS', `client key ${name} already exists`);
    return this.repo.add(name, {
      algorithm: pair.algorithm,
      bits: pair.bits,
      publicBlob: pair.publicBlob,
      sha256: pair.sha256,
      md5: pair.md5,
      privateSealed: this.master.seal(pair.privateKey.reveal(), SEAL_LABEL),
      comment: pair.comment || name,
    });
  }

  generate(name: string, type: SshKeyType, bits?: number): Promise<ClientKeyRecord> {
    validateKeyName(name);
    return this.#store(name, generateSshKeyPair(type, bits, `ferry:${name}`));
  }

  import(name: string, data: Buffer, passphrase?: Secret<string>): Promise<ClientKeyRecord> {
    validateKeyName(name);
    return this.#store(name, parsePrivateKey(data, passphrase));
  }

  /** The decrypted pair, for the transfer engine and for exports. */
  async keyPair(name: string): Promise<SshKeyPair> {
    const record = await this.get(name);
    return parsePrivateKey(this.master.open(record.privateSealed, SEAL_LABEL).reveal());
  }

  async exportPrivate(name: string, format: PrivateKeyFormat, passphrase?: Secret<string>): Promise<string> {
    const record = await this.get(name);
    return exportPrivateKey(await this.keyPair(name), format, { passphrase, comment: record.comment });
  }

  async remove(name: string): Promise<void> {
    if (!(await this.repo.remove(name))) throw new FerryError('ERR_NOT_FOUND', `no client key named ${name}`);
  }
}
