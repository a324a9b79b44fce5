// Counts what the store holds sealed with the master key, so a missing key is never replaced over it.
import type { Kysely } from 'kysely';
// The CommonJS build store/kysely.ts loads: a value import from 'kysely' would load its ES build beside it.
import { sql } from './kysely.js';
import type { Database } from './schema.js';

/** Rows with a sealed secret, per kind (host, client, OpenPGP and certificate private keys, partner passwords, TOTP secrets, webhook secrets of rules). */
export async function countSealedSecrets(db: Kysely<Database>): Promise<Record<string, number>> {
  const count = async (
    table:
      | 'host_keys'
      | 'client_keys'
      | 'pgp_keys'
      | 'certificates'
      | 'partners'
      | 'user_totp'
      | 'api_admin_totp'
      | 'rules',
    column: 'private_sealed' | 'password_sealed' | 'secret_sealed',
  ): Promise<number> => {
    const row = await db
      .selectFrom(table)
      .select(sql<number>`count(*)`.as('n'))
      .where(sql<boolean>`${sql.ref(column)} is not null`)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  };
  return {
    'host keys': await count('host_keys', 'private_sealed'),
    'client keys': await count('client_keys', 'private_sealed'),
    'OpenPGP private keys': await count('pgp_keys', 'private_sealed'),
    'certificate keys': await count('certificates', 'private_sealed'),
    'partner passwords': await count('partners', 'password_sealed'),
    'TOTP secrets': await count('user_totp', 'secret_sealed'),
    'admin TOTP secrets': await count('api_admin_totp', 'secret_sealed'),
    'rule secrets': await count('rules', 'secret_sealed'),
  };
}
