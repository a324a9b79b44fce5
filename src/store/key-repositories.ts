// Host, client and OpenPGP key records over kysely (shared by the SQLite and PostgreSQL drivers).
import type { Kysely, Selectable } from 'kysely';
import { FerryError } from '../errors.js';
import { isUniqueViolation } from './named-records.js';
import type { ClientKeysTable, Database, HostKeysTable, PgpKeysTable } from './schema.js';
import type {
  ClientKeyRecord,
  ClientKeyRepository,
  HostKeyRecord,
  HostKeyRepository,
  NewKeyPair,
  NewPgpKey,
  PgpKeyRecord,
  PgpKeyRepository,
  StoredKeyPair,
} from './types.js';

function keyPairColumns(key: NewKeyPair) {
  return {
    algorithm: key.algorithm,
    bits: key.bits,
    public_key: key.publicBlob.toString('base64'),
    sha256: key.sha256,
    md5: key.md5,
    private_sealed: key.privateSealed,
    comment: key.comment,
    created_at: new Date().toISOString(),
  };
}

function toKeyPair(row: Selectable<HostKeysTable> | Selectable<ClientKeysTable>): StoredKeyPair {
  return {
    id: row.id,
    algorithm: row.algorithm,
    bits: row.bits,
    publicBlob: Buffer.from(row.public_key, 'base64'),
    sha256: row.sha256,
    md5: row.md5,
    privateSealed: row.private_sealed,
    comment: row.comment,
    createdAt: new Date(row.created_at),
  };
}

const toHostKey = (row: Selectable<HostKeysTable>): HostKeyRecord => ({
  ...toKeyPair(row),
  state: row.state,
  active: row.state === 'active',
  activatedAt: row.activated_at ? new Date(row.activated_at) : null,
  retiredAt: row.retired_at ? new Date(row.retired_at) : null,
  certificate: row.certificate ? Buffer.from(row.certificate, 'base64') : null,
});

const toClientKey = (row: Selectable<ClientKeysTable>): ClientKeyRecord => ({
  ...toKeyPair(row),
  name: row.name,
});

const toPgpKey = (row: Selectable<PgpKeysTable>): PgpKeyRecord => ({
  id: row.id,
  name: row.name,
  fingerprint: row.fingerprint,
  keyId: row.key_id,
  userIds: JSON.parse(row.user_ids) as string[],
  algorithm: row.algorithm,
  createdAt: new Date(row.created_at),
  expiresAt: row.expires_at ? new Date(row.expires_at) : null,
  publicArmored: row.public_armored,
  privateSealed: row.private_sealed,
});

export class KyselyHostKeyRepository implements HostKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<HostKeyRecord[]> {
    return (await this.db.selectFrom('host_keys').selectAll().orderBy('id').execute()).map(toHostKey);
  }

  async add(key: NewKeyPair, state: 'pending' | 'active'): Promise<HostKeyRecord> {
    const columns = keyPairColumns(key);
    const row = await this.db
      .insertInto('host_keys')
      .values({
        ...columns,
        state,
        active: state === 'active' ? 1 : 0,
        activated_at: state === 'active' ? columns.created_at : null,
        retired_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toHostKey(row);
  }

  async promote(id: number): Promise<boolean> {
    const result = await this.db
      .updateTable('host_keys')
      .set({ state: 'active', active: 1, activated_at: new Date().toISOString() })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async retire(id: number): Promise<boolean> {
    const result = await this.db
      .updateTable('host_keys')
      .set({ state: 'retired', active: 0, retired_at: new Date().toISOString() })
      .where('id', '=', id)
      .where('state', '!=', 'retired')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async setCertificate(id: number, certificate: Buffer | null): Promise<boolean> {
    const result = await this.db
      .updateTable('host_keys')
      .set({ certificate: certificate ? certificate.toString('base64') : null })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}

export class KyselyClientKeyRepository implements ClientKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<ClientKeyRecord[]> {
    return (await this.db.selectFrom('client_keys').selectAll().orderBy('name').execute()).map(toClientKey);
  }

  async get(name: string): Promise<ClientKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('client_keys')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? toClientKey(row) : undefined;
  }

  async add(name: string, key: NewKeyPair): Promise<ClientKeyRecord> {
    try {
      const row = await this.db
        .insertInto('client_keys')
        .values({ ...keyPairColumns(key), name })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toClientKey(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `client key ${name} already exists`);
      throw err;
    }
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('client_keys').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

export class KyselyPgpKeyRepository implements PgpKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<PgpKeyRecord[]> {
    return (await this.db.selectFrom('pgp_keys').selectAll().orderBy('name').execute()).map(toPgpKey);
  }

  async get(name: string): Promise<PgpKeyRecord | undefined> {
    const row = await this.db.selectFrom('pgp_keys').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toPgpKey(row) : undefined;
  }

  async add(key: NewPgpKey): Promise<PgpKeyRecord> {
    try {
      const row = await this.db
        .insertInto('pgp_keys')
        .values({
          name: key.name,
          fingerprint: key.fingerprint,
          key_id: key.keyId,
          user_ids: JSON.stringify(key.userIds),
          algorithm: key.algorithm,
          created_at: key.createdAt.toISOString(),
          expires_at: key.expiresAt ? key.expiresAt.toISOString() : null,
          public_armored: key.publicArmored,
          private_sealed: key.privateSealed,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toPgpKey(row);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new FerryError(
          'ERR_ALREADY_EXISTS',
          `an OpenPGP key named ${key.name} or with fingerprint ${key.fingerprint} exists`,
        );
      }
      throw err;
    }
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('pgp_keys').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
