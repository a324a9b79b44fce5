// Trusted user certificate authorities and revoked certificates over kysely (shared by both drivers).
import type { Kysely, Selectable } from 'kysely';
import { FerryError } from '../errors.js';
import { isUniqueViolation } from './named-records.js';
import type { CertRevocationsTable, Database, UserCasTable } from './schema.js';
import type {
  CertRevocationRecord,
  CertRevocationRepository,
  NewCertRevocation,
  NewUserCa,
  UserCaRecord,
  UserCaRepository,
} from './types.js';

const toCa = (row: Selectable<UserCasTable>): UserCaRecord => ({
  id: row.id,
  name: row.name,
  algorithm: row.algorithm,
  publicBlob: Buffer.from(row.public_key, 'base64'),
  fingerprint: row.fingerprint,
  createdAt: new Date(row.created_at),
});

const toRevocation = (row: Selectable<CertRevocationsTable>): CertRevocationRecord => ({
  id: row.id,
  kind: row.kind,
  value: row.value,
  caFingerprint: row.ca_fingerprint,
  createdAt: new Date(row.created_at),
});

export class KyselyUserCaRepository implements UserCaRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<UserCaRecord[]> {
    return (await this.db.selectFrom('user_cas').selectAll().orderBy('name').execute()).map(toCa);
  }

  async add(ca: NewUserCa): Promise<UserCaRecord> {
    try {
      const row = await this.db
        .insertInto('user_cas')
        .values({
          name: ca.name,
          algorithm: ca.algorithm,
          public_key: ca.publicBlob.toString('base64'),
          fingerprint: ca.fingerprint,
          created_at: new Date().toISOString(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toCa(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError(
          'ERR_ALREADY_EXISTS',
          `a CA named ${ca.name} or with key ${ca.fingerprint} is already trusted`,
        );
      throw err;
    }
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('user_cas').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

export class KyselyCertRevocationRepository implements CertRevocationRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<CertRevocationRecord[]> {
    return (await this.db.selectFrom('cert_revocations').selectAll().orderBy('id').execute()).map(
      toRevocation,
    );
  }

  async add(entry: NewCertRevocation): Promise<CertRevocationRecord> {
    try {
      const row = await this.db
        .insertInto('cert_revocations')
        .values({
          kind: entry.kind,
          value: entry.value,
          ca_fingerprint: entry.caFingerprint,
          created_at: new Date().toISOString(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toRevocation(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `${entry.kind} ${entry.value} is already revoked`);
      throw err;
    }
  }

  async remove(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('cert_revocations').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async isRevoked(c: {
    serial: string;
    caFingerprint: string;
    keyId: string;
    keyFingerprint: string;
  }): Promise<boolean> {
    const row = await this.db
      .selectFrom('cert_revocations')
      .select('id')
      .where((eb) =>
        eb.or([
          // '*': any CA (a KRL section without a CA key); '': a key id revoked whichever CA signed it.
          eb.and([
            eb('kind', '=', 'serial'),
            eb('value', '=', c.serial),
            eb('ca_fingerprint', 'in', [c.caFingerprint, '*']),
          ]),
          eb.and([
            eb('kind', '=', 'key-id'),
            eb('value', '=', c.keyId),
            eb('ca_fingerprint', 'in', ['', '*', c.caFingerprint]),
          ]),
          eb.and([eb('kind', '=', 'fingerprint'), eb('value', '=', c.keyFingerprint)]),
        ]),
      )
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}
