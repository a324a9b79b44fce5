// The Key Manager's administration: host, client and OpenPGP keys; changes and private exports are admin events.
import { z } from 'zod';
import { FerryError } from '../errors.js';
import { HostKeyManager } from '../key-manager/host-keys.js';
import { exportPrivateKey, type PrivateKeyFormat } from '../keys/private-keys.js';
import type { ClientKeyRecord, HostKeyRecord, PgpKeyRecord, StoredKeyPair } from '../store/types.js';
import { Secret } from '../util/secret.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';
import { SSH_KEY_TYPES } from './user-inputs.js';

export const PRIVATE_KEY_FORMATS = ['openssh', 'pem', 'ppk'] as const;
const secretSchema = z.instanceof(Secret<string>);
const bits = z.number().int().positive().optional();
/** Where exported private material goes (a file name, 'stdout', 'download'): recorded, the key never is. */
const destination = z.string().default('stdout');

export const sshKeyGenerateSchema = z.object({ type: z.enum(SSH_KEY_TYPES), bits });
export type SshKeyGenerateInput = z.input<typeof sshKeyGenerateSchema>;

export const keyImportSchema = z.object({
  /** The private key file's bytes (OpenSSH, PEM, PuTTY .ppk; for OpenPGP armored or binary). */
  data: z.instanceof(Buffer),
  passphrase: secretSchema.optional(),
});
export type KeyImportInput = z.input<typeof keyImportSchema>;

export const hostKeyExportSchema = z.object({
  id: z.number().int().positive(),
  format: z.enum(PRIVATE_KEY_FORMATS).default('openssh'),
  destination,
});
export type HostKeyExportInput = z.input<typeof hostKeyExportSchema>;

export const clientKeyExportSchema = z.object({
  name: z.string().min(1),
  format: z.enum(PRIVATE_KEY_FORMATS).default('openssh'),
  /** Encrypts the exported key. */
  passphrase: secretSchema.optional(),
  destination,
});
export type ClientKeyExportInput = z.input<typeof clientKeyExportSchema>;

export const pgpKeyGenerateSchema = z.object({
  name: z.string().min(1),
  email: z.string().min(1),
  userName: z.string().optional(),
  type: z.enum(['curve25519', 'rsa4096']).default('curve25519'),
  expiresInDays: z.number().int().positive().optional(),
});
export type PgpKeyGenerateInput = z.input<typeof pgpKeyGenerateSchema>;

export const pgpKeyImportSchema = keyImportSchema.extend({
  /** Default: the key id. */
  name: z.string().min(1).optional(),
});
export type PgpKeyImportInput = z.input<typeof pgpKeyImportSchema>;

export const pgpKeyExportSchema = z.object({ name: z.string().min(1), destination });
export type PgpKeyExportInput = z.input<typeof pgpKeyExportSchema>;

/** The `authorized_keys`/known_hosts line of a stored key pair. */
export function publicKeyLine(key: StoredKeyPair): string {
  return `${key.algorithm} ${key.publicBlob.toString('base64')}${key.comment ? ` ${key.comment}` : ''}`;
}

/** A private export's audit detail: which key, in what form, to where; never the key itself. */
function privateExportDetail(fingerprint: string, format: string, to: string) {
  return { private: true, fingerprint, format, to };
}

const hostSubject = (id: number) => `host key ${id}`;

/** Server host keys: pending → active → retired. */
export class HostKeyAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  list(): Promise<HostKeyRecord[]> {
    return this.#deps.hostKeys.list();
  }

  async get(id: number): Promise<HostKeyRecord> {
    const key = (await this.list()).find((k) => k.id === id);
    if (!key) throw new FerryError('ERR_NOT_FOUND', `no host key with id ${id}`);
    return key;
  }

  /** When a pending key will be promoted by the grace period (undefined: not pending, or no grace period). */
  promotionDue(key: HostKeyRecord): Date | undefined {
    return HostKeyManager.promotionDue(key, this.#deps.config.hostKeyGracePeriod);
  }

  async generate(actor: Actor, input: SshKeyGenerateInput): Promise<HostKeyRecord> {
    checkActor(actor);
    const o = parseInput(sshKeyGenerateSchema, input);
    const key = await this.#deps.hostKeys.generate(o.type, o.bits);
    await this.#record.record(actor, 'keys.host.generate', hostSubject(key.id), {
      sha256: key.sha256,
      state: key.state,
    });
    return key;
  }

  async import(actor: Actor, input: KeyImportInput): Promise<HostKeyRecord> {
    checkActor(actor);
    const o = parseInput(keyImportSchema, input);
    const key = await this.#deps.hostKeys.import(o.data, o.passphrase);
    await this.#record.record(actor, 'keys.host.import', hostSubject(key.id), {
      sha256: key.sha256,
      state: key.state,
    });
    return key;
  }

  /** Makes a pending key active; also returns the older active keys of its type (presented until retired). */
  async promote(actor: Actor, id: number): Promise<{ key: HostKeyRecord; olderActive: HostKeyRecord[] }> {
    checkActor(actor);
    const key = await this.#deps.hostKeys.promote(id);
    await this.#record.record(actor, 'keys.host.promote', hostSubject(key.id), {
      sha256: key.sha256,
      state: key.state,
    });
    const olderActive = (await this.list()).filter(
      (k) => k.active && k.algorithm === key.algorithm && k.id !== key.id,
    );
    return { key, olderActive };
  }

  /** Promotes the pending keys whose grace period is over (the server, now and then). */
  async promoteDue(actor: Actor, graceDays: number): Promise<HostKeyRecord[]> {
    checkActor(actor);
    const promoted = await this.#deps.hostKeys.promoteDue(graceDays);
    for (const key of promoted) {
      await this.#record.record(actor, 'keys.host.promote-due', hostSubject(key.id), {
        sha256: key.sha256,
        state: key.state,
        graceDays,
      });
    }
    return promoted;
  }

  /** First start: the default host keys, when the store has none. */
  async ensureDefaults(actor: Actor): Promise<HostKeyRecord[]> {
    checkActor(actor);
    const generated = await this.#deps.hostKeys.ensureDefaults();
    for (const key of generated) {
      await this.#record.record(actor, 'keys.host.first-start', hostSubject(key.id), {
        generated: key.algorithm,
        bits: key.bits,
        sha256: key.sha256,
        state: key.state,
      });
    }
    return generated;
  }

  /** Stops presenting and announcing a key; returns every key after the change. */
  async retire(actor: Actor, id: number): Promise<HostKeyRecord[]> {
    checkActor(actor);
    await this.#deps.hostKeys.retire(id);
    await this.#record.record(actor, 'keys.host.retire', hostSubject(id));
    return this.list();
  }

  async exportPublic(id: number): Promise<string> {
    return publicKeyLine(await this.get(id));
  }

  /** The private key, recorded before it leaves: an export the trail cannot record does not happen. */
  async exportPrivate(actor: Actor, input: HostKeyExportInput): Promise<Secret<string>> {
    checkActor(actor);
    const o = parseInput(hostKeyExportSchema, input);
    const key = await this.get(o.id);
    const text = exportPrivateKey(await this.#deps.hostKeys.keyPair(key.id), o.format as PrivateKeyFormat, {
      comment: key.comment,
    });
    await this.#record.record(
      actor,
      'keys.host.export',
      hostSubject(key.id),
      privateExportDetail(key.sha256, o.format, o.destination),
    );
    return new Secret(text);
  }
}

/** Key pairs Ferry logs in to partners with. */
export class ClientKeyAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  list(): Promise<ClientKeyRecord[]> {
    return this.#deps.clientKeys.list();
  }

  get(name: string): Promise<ClientKeyRecord> {
    return this.#deps.clientKeys.get(name);
  }

  async generate(actor: Actor, name: string, input: SshKeyGenerateInput): Promise<ClientKeyRecord> {
    checkActor(actor);
    const o = parseInput(sshKeyGenerateSchema, input);
    const key = await this.#deps.clientKeys.generate(name, o.type, o.bits);
    await this.#record.record(actor, 'keys.client.generate', name, { sha256: key.sha256 });
    return key;
  }

  async import(actor: Actor, name: string, input: KeyImportInput): Promise<ClientKeyRecord> {
    checkActor(actor);
    const o = parseInput(keyImportSchema, input);
    const key = await this.#deps.clientKeys.import(name, o.data, o.passphrase);
    await this.#record.record(actor, 'keys.client.import', name, { sha256: key.sha256 });
    return key;
  }

  async exportPublic(name: string): Promise<string> {
    return publicKeyLine(await this.get(name));
  }

  async exportPrivate(actor: Actor, input: ClientKeyExportInput): Promise<Secret<string>> {
    checkActor(actor);
    const o = parseInput(clientKeyExportSchema, input);
    const key = await this.get(o.name);
    const text = await this.#deps.clientKeys.exportPrivate(o.name, o.format, o.passphrase);
    await this.#record.record(actor, 'keys.client.export', o.name, {
      ...privateExportDetail(key.sha256, o.format, o.destination),
      encrypted: o.passphrase !== undefined,
    });
    return new Secret(text);
  }

  async remove(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    await this.#deps.clientKeys.remove(name);
    await this.#record.record(actor, 'keys.client.remove', name);
  }
}

/** OpenPGP keys for encryption at rest and for partners. */
export class PgpKeyAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  list(): Promise<PgpKeyRecord[]> {
    return this.#deps.pgpKeys.list();
  }

  get(name: string): Promise<PgpKeyRecord> {
    return this.#deps.pgpKeys.get(name);
  }

  async generate(actor: Actor, input: PgpKeyGenerateInput): Promise<PgpKeyRecord> {
    checkActor(actor);
    const o = parseInput(pgpKeyGenerateSchema, input);
    const key = await this.#deps.pgpKeys.generate(o);
    await this.#record.record(actor, 'keys.pgp.generate', o.name, { fingerprint: key.fingerprint });
    return key;
  }

  async import(actor: Actor, input: PgpKeyImportInput): Promise<PgpKeyRecord> {
    checkActor(actor);
    const o = parseInput(pgpKeyImportSchema, input);
    const { readPgpKey } = await import('../keys/pgp.js');
    const name =
      o.name ??
      (await readPgpKey(o.data.includes('-----BEGIN PGP') ? o.data.toString() : new Uint8Array(o.data)))
        .keyId;
    const key = await this.#deps.pgpKeys.import(name, o.data, o.passphrase);
    await this.#record.record(actor, 'keys.pgp.import', name, {
      fingerprint: key.fingerprint,
      private: key.privateSealed !== null,
    });
    return key;
  }

  async exportPublic(name: string): Promise<string> {
    return (await this.get(name)).publicArmored;
  }

  /** The armored private key (unprotected), recorded before it leaves. */
  async exportPrivate(actor: Actor, input: PgpKeyExportInput): Promise<Secret<string>> {
    checkActor(actor);
    const o = parseInput(pgpKeyExportSchema, input);
    const armored = await this.#deps.pgpKeys.privateArmored(o.name);
    const key = await this.get(o.name);
    await this.#record.record(
      actor,
      'keys.pgp.export',
      o.name,
      privateExportDetail(key.fingerprint, 'armored', o.destination),
    );
    return armored;
  }

  async remove(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    await this.#deps.pgpKeys.remove(name);
    await this.#record.record(actor, 'keys.pgp.remove', name);
  }
}
