// Throwaway PostgreSQL databases for tests: each created under a random name and dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server tests use: FERRY_TEST_POSTGRES_URL, or the CI machines' local PostgreSQL (trust auth). */
export const TEST_POSTGRES_URL =
  process.env.FERRY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** The new database's URL. */
  readonly url: string;
  drop(): Promise<void>;
}

async function withAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * Undefined when a server answers; otherwise why not, for a test's skip message (a machine without PostgreSQL
 * skips the PostgreSQL tests, saying so, rather than failing them).
 */
export async function postgresUnavailable(): Promise<string | undefined> {
  try {
    await withAdmin((client) => client.query('SELECT 1'));
    return undefined;
  } catch (err) {
    return `no PostgreSQL server reachable at ${TEST_POSTGRES_URL} (${(err as Error).message}); set FERRY_TEST_POSTGRES_URL to run these tests`;
  }
}

function databaseUrl(name: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

const randomName = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

/**
 * Creates a database with a random name (parallel test files never share one): a copy of `template` if given, or
 * with `clauses` (e.g. a locale) appended to CREATE DATABASE.
 */
export async function createTestDatabase(template?: string, clauses = ''): Promise<TestDatabase> {
  const name = randomName('ferry_test');
  await withAdmin((client) =>
    client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''} ${clauses}`),
  );
  return {
    url: databaseUrl(name),
    drop: () =>
      withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/**
 * Many databases for one test file: `prepare` (e.g. migrating) runs once on a template, and each `create` copies
 * it (a file copy, much faster than migrating again). `close` drops the template.
 */
export async function testDatabaseFactory(
  prepare: (url: string) => Promise<void>,
): Promise<{ create(): Promise<TestDatabase>; close(): Promise<void> }> {
  const template = await createTestDatabase();
  const name = new URL(template.url).pathname.slice(1);
  try {
    await prepare(template.url);
  } catch (err) {
    await template.drop();
    throw err;
  }
  return { create: () => createTestDatabase(name), close: () => template.drop() };
}
