// X.509 certificate records over kysely (shared by the SQLite and PostgreSQL drivers).
import type { Kysely, Selectable } from 'kysely';
import { FerryError } from '../errors.js';
import { isUniqueViolation } from './named-records.js';
import type { CertificatesTable, Database } from './schema.js';
import type { CertificateRecord, CertificateRepository, NewCertificate } from './types.js';

const toCertificate = (row: Selectable<CertificatesTable>): CertificateRecord => ({
  id: row.id,
  name: row.name,
  algorithm: row.algorithm,
  subject: row.subject,
  issuer: row.issuer,
  altNames: row.alt_names,
  fingerprint: row.fingerprint,
  notBefore: new Date(row.not_before),
  notAfter: new Date(row.not_after),
  chainPem: row.chain_pem,
  privateSealed: row.private_sealed,
  createdAt: new Date(row.created_at),
});

export class KyselyCertificateRepository implements CertificateRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<CertificateRecord[]> {
    return (await this.db.selectFrom('certificates').selectAll().orderBy('name').execute()).map(
      toCertificate,
    );
  }

  async get(name: string): Promise<CertificateRecord | undefined> {
    const row = await this.db
      .selectFrom('certificates')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? toCertificate(row) : undefined;
  }

  async add(c: NewCertificate): Promise<CertificateRecord> {
    try {
      const row = await this.db
        .insertInto('certificates')
        .values({
          name: c.name,
          algorithm: c.algorithm,
          subject: c.subject,
          issuer: c.issuer,
          alt_names: c.altNames,
          fingerprint: c.fingerprint,
          not_before: c.notBefore.toISOString(),
          not_after: c.notAfter.toISOString(),
          chain_pem: c.chainPem,
          private_sealed: c.privateSealed,
          created_at: new Date().toISOString(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toCertificate(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `certificate ${c.name} already exists`);
      throw err;
    }
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('certificates').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
