// `ferry storage rekey`: re-wraps encrypted files' data keys under another master key without rewriting contents.

import { resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { FerryError } from '../errors.js';
import { MasterKey } from '../keys/sealing.js';
import type { UserRecord } from '../store/types.js';
import { type RekeyReport, rekeyTree } from '../vfs/encrypted/rekey.js';
import { type StorageKek, StorageKeyRing, storageKekOf } from '../vfs/encrypted/storage-keys.js';
import type { Fs } from '../vfs/types.js';
import { CliError, type DataDirOption, STORE_OPTION_HELP, withContext } from './common.js';
import { commandDescription } from './descriptions.js';

interface RekeyOptions {
  newMasterKey?: string;
  oldMasterKey?: string[];
}

const out = (line: string) => process.stdout.write(`${line}\n`);

/** A master key from a file (32 bytes, hex or base64, mode 0600), as the data dir's master.key is read. */
function keyFile(file: string): StorageKek {
  return storageKekOf(MasterKey.load(undefined, file, { generate: false }));
}

/** The homes directory and every home outside it (users added with --home), none inside another. */
function homeRoots(homes: string, users: readonly UserRecord[]): string[] {
  const all = [homes, ...users.flatMap((u) => (u.homeDir ? [resolve(u.homeDir)] : []))].sort();
  const inside = (dir: string, root: string) => dir === root || dir.startsWith(`${root}${sep}`);
  return all.filter((dir, i) => !all.slice(0, i).some((root) => inside(dir, root)));
}

/** One root re-keyed, its paths reported as on disk; a root that does not exist (nothing stored yet) is empty. */
async function rekeyRoot(fs: Fs, root: string, ring: StorageKeyRing): Promise<RekeyReport> {
  try {
    const report = await rekeyTree(fs, '/', ring);
    return { ...report, failed: report.failed.map((f) => ({ ...f, message: `${root}${f.message}` })) };
  } catch (err) {
    if (err instanceof FerryError && err.code === 'ERR_NOT_FOUND') {
      return { rewrapped: 0, alreadyCurrent: 0, plain: 0, failed: [] };
    }
    throw err;
  } finally {
    await fs.dispose?.();
  }
}

export function registerStorageCommand(program: Command): void {
  const storage = program
    .command('storage')
    .description(commandDescription('storage'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');

  storage
    .command('rekey')
    .description(
      "re-wrap every encrypted file's data key under another master key; only the 96-byte headers are rewritten",
    )
    .option(
      '--new-master-key <file>',
      'wrap under this key (from the current master key); install it as master.key afterwards',
    )
    .option(
      '--old-master-key <file>',
      'files wrapped under this key (e.g. homes moved from another Ferry) move to the current master key; repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .addHelpText(
      'after',
      '\nThe current master key is FERRY_MASTER_KEY / the config masterKey / <dataDir>/master.key. Run it with the server\n' +
        'stopped: a running server wraps new files under the key it started with. See docs/ENCRYPTION.md.',
    )
    .action(async (o: RekeyOptions, cmd: Command) => {
      if (!o.newMasterKey && !o.oldMasterKey?.length) {
        throw new CliError(
          'name --new-master-key FILE (move files to a new key) or --old-master-key FILE (move them from an old key to the current one)',
          2,
        );
      }
      const flags = cmd.optsWithGlobals() as DataDirOption;
      await withContext(flags, async (ctx) => {
        const current = ctx.storageKeys.current;
        const older = (o.oldMasterKey ?? []).map(keyFile);
        const ring = o.newMasterKey
          ? new StorageKeyRing(keyFile(o.newMasterKey), [current, ...older])
          : new StorageKeyRing(current, older);
        const report: RekeyReport = { rewrapped: 0, alreadyCurrent: 0, plain: 0, failed: [] };
        for (const root of homeRoots(ctx.paths.homes, await ctx.effectiveUsers())) {
          const part = await rekeyRoot(ctx.storedTree(root), root, ring);
          report.rewrapped += part.rewrapped;
          report.alreadyCurrent += part.alreadyCurrent;
          report.plain += part.plain;
          report.failed.push(...part.failed);
        }
        const toKeyId = ring.current.id.toString('hex');
        await ctx.admin.data.storageRekeyed(cliActor(), ctx.paths.homes, {
          toKeyId,
          rewrapped: report.rewrapped,
          alreadyCurrent: report.alreadyCurrent,
          failed: report.failed.length,
        });
        out(
          `${report.rewrapped} file(s) re-wrapped under key ${toKeyId}, ${report.alreadyCurrent} already under it, ` +
            `${report.plain} not encrypted, ${report.failed.length} failed`,
        );
        for (const f of report.failed) process.stderr.write(`ferry: ${f.message}\n`);
        if (report.failed.length > 0) {
          throw new CliError(`${report.failed.length} file(s) could not be re-wrapped (listed above)`);
        }
        if (o.newMasterKey && report.rewrapped + report.alreadyCurrent > 0) {
          out(
            `now install ${o.newMasterKey} as the master key: until then the server cannot read these files ` +
              '(the secrets sealed in the store need the key they were sealed with too; see docs/ENCRYPTION.md)',
          );
        }
      });
    });
}
