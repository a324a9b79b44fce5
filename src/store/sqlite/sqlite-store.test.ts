import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { runStoreContract } from '../contract.js';
import { runFolderStoreContract } from '../folder-contract-fixture.js';
import { runGroupStoreContract } from '../group-contract-fixture.js';
import { migrationProvider } from '../migrations.js';
import { openSqliteStore } from './sqlite-store.js';

const freshSqlite = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  return {
    store: await openSqliteStore(join(dir, 'ferry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
};
runStoreContract('sqlite', freshSqlite);
runGroupStoreContract('sqlite', freshSqlite);
runFolderStoreContract('sqlite', freshSqlite);

test('the SQLite file is private and survives a reopen', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  try {
    const file = join(dir, 'ferry.db');
    const first = await openSqliteStore(file);
    await first.users.create({ name: 'frank', passwordHash: 'h' });
    await first.close();
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const second = await openSqliteStore(file);
    assert.equal((await second.users.findByName('frank'))?.passwordHash, 'h');
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a store from before host key states keeps its active and retired keys as they were', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  try {
    const file = join(dir, 'ferry.db');
    const sqlite = new SqliteDatabase(file);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo('0005_security');
    assert.equal(error, undefined);
    const insert = sqlite.prepare(
      `INSERT INTO host_keys (algorithm, bits, public_key, sha256, md5, private_sealed, created_at, active, retired_at)
       VALUES ('ssh-ed25519', 256, 'cHVi', ?, 'MD5:x', 'v1:x', '2026-01-01T00:00:00.000Z', ?, ?)`,
    );
    insert.run('SHA256:old', 0, '2026-02-01T00:00:00.000Z');
    insert.run('SHA256:current', 1, null);
    await db.destroy();
    const store = await openSqliteStore(file);
    const keys = await store.hostKeys.list();
    assert.deepEqual(
      keys.map((k) => [k.sha256, k.state, k.active, k.activatedAt?.toISOString() ?? null]),
      [
        ['SHA256:old', 'retired', false, null],
        ['SHA256:current', 'active', true, '2026-01-01T00:00:00.000Z'],
      ],
    );
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('partners from before algorithm profiles get modern, and compat when their trusted host key is ECDSA', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  try {
    const file = join(dir, 'ferry.db');
    const sqlite = new SqliteDatabase(file);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo('0017_nodes');
    assert.equal(error, undefined);
    const insert = sqlite.prepare(
      `INSERT INTO partners (name, host, port, username, host_key_algorithm, host_key_sha256, created_at, updated_at)
       VALUES (?, 'h', 22, 'u', ?, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
    );
    insert.run('ecdsa', 'ecdsa-sha2-nistp384', 'SHA256:a');
    insert.run('ed', 'ssh-ed25519', 'SHA256:b');
    insert.run('rsa', 'ssh-rsa', 'SHA256:c');
    insert.run('untrusted', null, null);
    await db.destroy();
    const store = await openSqliteStore(file);
    assert.deepEqual(
      (await store.partners.list()).map((p) => [p.name, p.algorithms]),
      [
        ['ecdsa', 'compat'],
        ['ed', 'modern'],
        ['rsa', 'modern'],
        ['untrusted', 'modern'],
      ],
    );
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a read-only open writes nothing, and upgrades a store from an older Ferry when it can', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  try {
    const file = join(dir, 'ferry.db');
    const writable = await openSqliteStore(file);
    await writable.users.create({ name: 'olga', passwordHash: 'h' });
    await writable.partners.create({
      name: 'old',
      host: 'h',
      port: 22,
      username: 'u',
      passwordSealed: 's',
      clientKey: null,
      hostKeyAlgorithm: null,
      hostKeySha256: null,
      renameUploads: true,
      readBack: false,
      algorithms: 'modern',
    });
    await writable.close();
    // As an older Ferry left it: the newest migrations not run yet.
    const raw = new SqliteDatabase(file);
    raw.exec(
      "DELETE FROM kysely_migration WHERE name IN ('0010_api', '0011_rule_counters', '0012_admin_totp', '0013_quotas', '0014_account_expiry', '0015_bandwidth', '0016_user_protocols', '0017_nodes', '0018_partner_algorithms', '0019_certificates', '0020_partner_protocol', '0021_live_sessions', '0022_ssh_certificates', '0023_external_users', '0024_groups', '0025_audit_node', '0026_defender_lists', '0027_last_login', '0028_s3_uploads', '0029_transfer_quotas', '0030_password_policy', '0031_virtual_folders', '0032_web_sessions', '0033_user_storage_encryption')",
    );
    raw.exec('ALTER TABLE partners DROP COLUMN algorithms');
    raw.exec('ALTER TABLE users DROP COLUMN expires_on');
    raw.exec('ALTER TABLE users DROP COLUMN last_login_at');
    raw.exec('ALTER TABLE users DROP COLUMN upload_rate');
    raw.exec('ALTER TABLE users DROP COLUMN download_rate');
    raw.exec('ALTER TABLE users DROP COLUMN protocols');
    raw.exec('ALTER TABLE users DROP COLUMN auth_source');
    raw.exec('ALTER TABLE users DROP COLUMN external_groups');
    raw.exec('ALTER TABLE users DROP COLUMN storage_encryption');
    for (const column of ['quota_bytes', 'quota_files', 'used_bytes', 'used_files']) {
      raw.exec(`ALTER TABLE users DROP COLUMN ${column}`);
    }
    raw.exec('ALTER TABLE partners DROP COLUMN protocol');
    raw.exec('ALTER TABLE partners DROP COLUMN tls_ca_file');
    raw.exec('ALTER TABLE audit_log DROP COLUMN node');
    raw.exec('DROP TABLE folder_mounts');
    raw.exec('DROP TABLE folders');
    raw.exec('DROP TABLE transfer_usage');
    raw.exec('DROP TABLE password_history');
    raw.exec('ALTER TABLE users DROP COLUMN password_changed_at');
    raw.exec('ALTER TABLE users DROP COLUMN must_change_password');
    raw.exec('ALTER TABLE users DROP COLUMN transfer_quotas');
    raw.exec('DROP TABLE user_groups');
    raw.exec('DROP TABLE groups');
    raw.exec('DROP TABLE user_cas');
    raw.exec('DROP TABLE cert_revocations');
    raw.exec('ALTER TABLE host_keys DROP COLUMN certificate');
    raw.exec('DROP TABLE s3_uploads');
    raw.exec('DROP TABLE defender_lists');
    raw.exec('DROP TABLE web_sessions');
    raw.exec('DROP TABLE upload_claims');
    raw.exec('DROP TABLE live_sessions');
    raw.exec('DROP TABLE nodes');
    raw.exec('DROP TABLE certificates');
    raw.exec('DROP TABLE rule_counters');
    raw.exec('DROP TABLE api_admin_totp');
    raw.exec('DROP TABLE api_sessions');
    raw.exec('DROP TABLE api_keys');
    raw.exec('DROP TABLE api_admins');
    raw.close();
    const upgraded = await openSqliteStore(file, { readonly: true });
    assert.equal((await upgraded.users.findByName('olga'))?.name, 'olga');
    assert.deepEqual(await upgraded.apiKeys.list(), [], 'the newer migrations ran');
    assert.deepEqual(await upgraded.certificates.list(), []);
    assert.deepEqual(await upgraded.userCas.list(), []);
    assert.deepEqual(await upgraded.defenderLists.list(), []);
    assert.equal(await upgraded.s3Uploads.find('b', 'k'), undefined);
    assert.deepEqual(await upgraded.webSessions.list(new Date()), []);
    assert.deepEqual(await upgraded.folders.list(), []);
    assert.equal(await upgraded.ruleCounters.keys(1), 0);
    assert.deepEqual((await upgraded.users.findByName('olga'))?.quota, {
      limitBytes: 0,
      limitFiles: 0,
      usedBytes: 0,
      usedFiles: 0,
    });
    assert.deepEqual(
      (await upgraded.users.findByName('olga'))?.protocols,
      [],
      'an existing user may use every protocol',
    );
    assert.equal((await upgraded.users.findByName('olga'))?.authSource, null, 'an existing user stays local');
    assert.deepEqual((await upgraded.users.findByName('olga'))?.transferQuotas, {}, 'no transfer quota');
    const old = await upgraded.partners.get('old');
    assert.deepEqual([old?.protocol, old?.tlsCaFile], ['sftp', null], 'an existing partner stays SFTP');
    await upgraded.close();
    const before = (await stat(file)).mtimeMs;
    const reader = await openSqliteStore(file, { readonly: true });
    assert.equal((await reader.users.list()).length, 1);
    await assert.rejects(reader.users.create({ name: 'x' }), /readonly/i);
    await reader.close();
    assert.equal((await stat(file)).mtimeMs, before);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('quota usage changes atomically: a change past a limit is refused whole, and two processes share the count', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  try {
    const file = join(dir, 'ferry.db');
    const one = await openSqliteStore(file);
    const two = await openSqliteStore(file);
    await one.users.create({ name: 'quinn' });
    await one.users.update('quinn', { quotaBytes: 1000, quotaFiles: 2 });
    assert.equal(await one.users.changeUsage('quinn', 600, 1), true);
    // The other connection sees the 600 already taken: 500 more would pass 1000.
    assert.equal(await two.users.changeUsage('quinn', 500, 0), false);
    assert.equal(await two.users.changeUsage('quinn', 400, 1), true);
    assert.equal(await one.users.changeUsage('quinn', 0, 1), false, 'a third file');
    assert.equal(await one.users.changeUsage('quinn', -5000, -5), true, 'floored at zero');
    assert.deepEqual((await two.users.findByName('quinn'))?.quota, {
      limitBytes: 1000,
      limitFiles: 2,
      usedBytes: 0,
      usedFiles: 0,
    });
    await one.users.setUsage('quinn', 42, 1);
    assert.equal((await two.users.findByName('quinn'))?.quota?.usedBytes, 42);
    assert.equal(await one.users.changeUsage('nobody', 1, 0), false);
    await one.close();
    await two.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
