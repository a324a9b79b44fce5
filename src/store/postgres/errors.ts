// PostgreSQL errors as one line naming the server and database (never the password) and what to do.
import { FerryError } from '../../errors.js';

const SECRET_PARAMETERS = new Set(['password', 'sslpassword']);

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    // libpq (and node-postgres) also take the password, and the client key's passphrase, as query parameters.
    for (const key of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAMETERS.has(key.toLowerCase())) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return 'the PostgreSQL store (store.url is not a valid URL)';
  }
}

/** A connection or migration failure as a FerryError naming `where` (a redacted URL); FerryErrors pass. */
export function describePostgresError(where: string, err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  const code = String((err as { code?: unknown } | undefined)?.code ?? '');
  const reason = err instanceof Error ? err.message : String(err);
  const message =
    code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT'
      ? `cannot reach the PostgreSQL server of ${where} (${reason}); check the host and port in store.url and that the server runs`
      : code === '3D000'
        ? `${where}: ${reason}; create the database first (createdb), Ferry creates only its tables`
        : code === '28P01' || code === '28000'
          ? `${where}: ${reason}; check the user and password in store.url`
          : `${where}: ${reason}`;
  return new FerryError('ERR_IO', message, { cause: err });
}
