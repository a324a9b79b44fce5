// `ferry backup` and `ferry restore`: one gzipped tar holding a consistent copy of the store, the config file and,
// only when asked, the master key.
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { loadConfig } from '../config/load.js';
import { AppContext } from '../context.js';
import { dataPaths } from '../data-dir.js';
import { inspectStoreFile, snapshotStore } from '../store/sqlite/backup.js';
import { assertSchemaKnown } from '../store/sqlite/schema-version.js';
import { TarWriter } from '../util/tar.js';
import {
  type BackupFile,
  type BackupManifest,
  describeContent,
  extract,
  FORMAT,
  FORMAT_VERSION,
  MANIFEST,
  sha256OfFile,
} from './backup-format.js';
import { CliError, configFromOptions, type DataDirOption, withContext } from './common.js';
import { commandDescription } from './descriptions.js';

function ferryVersion(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));
  return String(pkg.version);
}

interface BackupFlags extends DataDirOption {
  to: string;
  includeMasterKey?: boolean;
  force?: boolean;
}

/** The config file in use, minus its master key unless that is wanted; undefined without a config file. */
function configFileContent(
  path: string | undefined,
  includeMasterKey: boolean,
): { text: Buffer; removed: boolean } | undefined {
  if (!path) return undefined;
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  if (!('masterKey' in parsed) || includeMasterKey) return { text: readFileSync(path), removed: false };
  delete parsed.masterKey;
  return { text: Buffer.from(`${JSON.stringify(parsed, null, 2)}\n`), removed: true };
}

async function runBackup(flags: BackupFlags, out: (line: string) => void, warn: (line: string) => void) {
  const config = configFromOptions(flags);
  if (config.store.driver === 'postgres')
    throw new CliError(
      'ferry backup copies a SQLite store; with store.url on PostgreSQL back up the database with pg_dump, and the data dir (master.key) apart',
    );
  const paths = dataPaths(config.dataDir);
  const to = resolve(flags.to);
  if (!existsSync(paths.database)) throw new CliError(`no store at ${paths.database}: nothing to back up`);
  if (existsSync(to) && !flags.force) throw new CliError(`${to} exists; choose another name or pass --force`);
  const configPath = flags.config ?? process.env.FERRY_CONFIG;
  const configFile = configFileContent(configPath, flags.includeMasterKey === true);
  let masterKey: Buffer | undefined;
  if (flags.includeMasterKey) {
    if (config.masterKey) masterKey = Buffer.from(`${config.masterKey.reveal().trim()}\n`);
    else if (existsSync(paths.masterKey)) masterKey = readFileSync(paths.masterKey);
    else
      throw new CliError(
        `--include-master-key: no master key (neither ${paths.masterKey} nor FERRY_MASTER_KEY)`,
      );
  }

  const partial = join(dirname(to), `.${basename(to)}.partial-${process.pid}`);
  const snapshot = `${partial}.db`;
  try {
    const store = await snapshotStore(paths.database, snapshot);
    const files: BackupFile[] = [
      { name: 'ferry.db', size: statSync(snapshot).size, sha256: await sha256OfFile(snapshot) },
    ];
    if (configFile) files.push(describeContent(configFile.text, 'ferry.json'));
    if (masterKey) files.push(describeContent(masterKey, 'master.key'));
    const manifest: BackupManifest = {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      ferryVersion: ferryVersion(),
      sourceDataDir: config.dataDir,
      store,
      files,
      masterKeyIncluded: masterKey !== undefined,
      configFile: configPath ? resolve(configPath) : null,
      configMasterKeyRemoved: configFile?.removed ?? false,
    };
    const tarStream = new PassThrough();
    const written = pipeline(
      tarStream,
      createGzip(),
      createWriteStream(partial, { mode: 0o600, flags: 'wx' }),
    );
    const writeAll = async () => {
      const tar = new TarWriter(tarStream);
      const now = new Date();
      const manifestText = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      await tar.add({ name: MANIFEST, size: manifestText.length, mode: 0o600, mtime: now }, manifestText);
      const dbFile = files[0]!;
      await tar.add(
        { name: dbFile.name, size: dbFile.size, mode: 0o600, mtime: now },
        createReadStream(snapshot),
      );
      if (configFile)
        await tar.add(
          { name: 'ferry.json', size: configFile.text.length, mode: 0o600, mtime: now },
          configFile.text,
        );
      if (masterKey)
        await tar.add({ name: 'master.key', size: masterKey.length, mode: 0o600, mtime: now }, masterKey);
      await tar.finish();
      tarStream.end();
    };
    await Promise.all([
      writeAll().catch((err: unknown) => {
        tarStream.destroy(err as Error);
        throw err;
      }),
      written,
    ]);
    const fd = openSync(partial, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(partial, to);
    // The trail says who took a backup and whether it holds the master key. Not when the store still has migrations
    // pending: opening it here would apply them under the server that is running the older schema.
    if (store.schema.pending.length === 0) {
      await withContext(flags, (ctx) =>
        ctx.admin.data.backedUp(cliActor(), to, {
          masterKeyIncluded: masterKey !== undefined,
          auditHeadSeq: store.auditHeadSeq,
        }),
      );
    }
    out(
      `backup written to ${to} (${statSync(to).size} bytes): store at schema version ${store.schema.databaseVersion}, ` +
        `${store.users} user(s), ${store.hostKeys} host key(s), ${store.clientKeys} client key(s), ` +
        `${store.pgpKeys} OpenPGP key(s), ${store.auditRecords} audit record(s)` +
        (configFile ? `, config file ${resolve(configPath!)}` : ''),
    );
    if (configFile?.removed) out(`the config file's masterKey was left out of the backup`);
    if (masterKey) {
      warn(
        'warning: this backup contains the master key: whoever holds the file can open every sealed secret ' +
          '(private host and client keys, partner passwords, TOTP secrets). Keep it as safe as the master key itself.',
      );
    } else {
      out(
        `the master key is not in the backup: keep ${config.masterKey ? 'FERRY_MASTER_KEY' : paths.masterKey} safe ` +
          'and separately; a restore needs it to open the sealed keys',
      );
    }
  } finally {
    rmSync(snapshot, { force: true });
    rmSync(partial, { force: true });
  }
}

interface RestoreFlags {
  dataDir: string;
}

/** Restores a backup file into an empty (or new) data dir, saying what it restored and what is left to do. */
async function runRestore(file: string, flags: RestoreFlags, out: (line: string) => void): Promise<void> {
  const target = resolve(flags.dataDir);
  const existed = existsSync(target);
  if (existed) {
    if (!statSync(target).isDirectory()) throw new CliError(`${target} is not a directory`);
    if (readdirSync(target).length > 0) {
      throw new CliError(`refusing to restore into ${target}: it is not empty (restore into a new data dir)`);
    }
  }
  if (!existsSync(file)) throw new CliError(`${file}: no such file`);
  mkdirSync(target, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  try {
    const manifest = await extract(file, target, created);
    const paths = dataPaths(target);
    const store = await inspectStoreFile(paths.database);
    assertSchemaKnown(paths.database, store.schema);
    mkdirSync(paths.homes, { mode: 0o700 });
    created.push(paths.homes);
    out(
      `restored ${paths.database} from a backup of ${manifest.sourceDataDir} taken ${manifest.createdAt}: ` +
        `${store.users} user(s), ${store.hostKeys} host key(s), ${store.auditRecords} audit record(s), ` +
        `schema version ${store.schema.databaseVersion}`,
    );
    if (manifest.files.some((f) => f.name === 'ferry.json')) {
      out(
        `config file ${manifest.configFile ?? ''} restored as ${join(target, 'ferry.json')}: ` +
          `use it with --config and check its dataDir${manifest.configMasterKeyRemoved ? ' (its masterKey was not backed up)' : ''}`,
      );
    }
    out(
      `homes/ is empty: users' files are not in a Ferry backup; restore them into ${paths.homes} from your file backups`,
    );
    // Opening the store applies pending migrations (as any command would) and records the restore in the trail.
    const ctx = await AppContext.create(loadConfig({ env: {}, flags: { dataDir: target } }));
    try {
      if (store.schema.pending.length > 0) {
        out(`applied migrations ${store.schema.pending.map((m) => m.name).join(', ')}`);
      }
      await ctx.admin.data.restored(cliActor(), file, {
        createdAt: manifest.createdAt,
        sourceDataDir: manifest.sourceDataDir,
      });
      if (manifest.masterKeyIncluded) {
        // Opening the host keys proves the restored key is the one that sealed them.
        const keys = await ctx.hostKeys.activeMaterial();
        out(
          `master key restored to ${paths.masterKey} (mode 0600); it opens the ${keys.length} active host key(s)`,
        );
      } else {
        out(
          `the backup holds no master key: before starting Ferry, copy the original one to ${paths.masterKey} ` +
            `(install -m 600 OLD_DATA_DIR/master.key ${paths.masterKey}) or set FERRY_MASTER_KEY; ` +
            'without it the sealed keys (host keys, client keys, partner passwords, TOTP secrets) cannot be opened',
        );
      }
    } finally {
      await ctx.dispose();
    }
    out(`next: ferry audit verify --data-dir ${target}; ferry serve --data-dir ${target}`);
  } catch (err) {
    for (const path of created.reverse()) rmSync(path, { recursive: true, force: true });
    if (!existed) rmSync(target, { recursive: true, force: true });
    throw err;
  }
}

export function registerBackupCommands(program: Command): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const warn = (line: string) => process.stderr.write(`${line}\n`);
  program
    .command('backup')
    .description(commandDescription('backup'))
    .requiredOption('--to <file>', 'backup file to write (a gzipped tar; mode 0600)')
    .option('--include-master-key', 'also store the master key in the backup (default: left out)')
    .option('--force', 'overwrite --to if it exists (default: refuse)')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option(
      '--config <file>',
      'JSON config file (env FERRY_CONFIG); it is backed up too, without its masterKey',
    )
    .addHelpText(
      'after',
      `
The backup holds ferry.db (users, sealed keys, audit trail, partners, jobs; copied with SQLite's online
backup API, so it is consistent while uploads run), the config file when one is used, and the master key
only with --include-master-key. Users' files under homes/ are not included.

Example:
  ferry backup --to /backup/ferry-$(date +%F).tar.gz --data-dir /var/lib/ferry`,
    )
    .action((flags: BackupFlags) => runBackup(flags, out, warn));

  program
    .command('restore')
    .description(commandDescription('restore'))
    .argument('<file>', 'backup file written by ferry backup')
    .requiredOption('--data-dir <dir>', 'data directory to create (must not exist or be empty; no default)')
    .addHelpText(
      'after',
      `
Every file is checked against the backup's manifest (size, SHA-256) and the store with SQLite's
integrity check. Without a master key in the backup, copy the original master.key into the new
data dir (mode 0600) or set FERRY_MASTER_KEY before starting Ferry.

Example:
  ferry restore /backup/ferry-2026-11-30.tar.gz --data-dir /var/lib/ferry-restored`,
    )
    .action((file: string, flags: RestoreFlags) => runRestore(resolve(file), flags, out));
}
