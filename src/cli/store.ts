// `ferry store copy --from A --to B`: move an installation between store drivers (SQLite → PostgreSQL), verified.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, type DataDirOption, withReadOnlyContext } from './common.js';
import { commandDescription } from './descriptions.js';

interface CopyFlags extends DataDirOption {
  from: string;
  to: string;
}

/** A postgres:// URL as it is; `sqlite:<path>` or a plain path as an absolute file name. */
function location(text: string): string {
  if (/^postgres(ql)?:\/\//.test(text)) return text;
  return resolve(text.replace(/^sqlite:(\/\/(?=\/))?/, ''));
}

export function registerStoreCommand(program: Command): void {
  const store = program.command('store').description(commandDescription('store'));
  store
    .command('copy')
    .description(
      'copy every row of a store (users, keys, rules, the whole audit chain, ...) into a new, empty one; verify the copy',
    )
    .requiredOption(
      '--from <store>',
      'the store to copy: a SQLite file (e.g. /var/lib/ferry/ferry.db) or postgres://…',
    )
    .requiredOption(
      '--to <store>',
      'the new store: postgres://user@host:5432/db (created empty) or a new SQLite file',
    )
    .option(
      '--data-dir <dir>',
      'data directory whose master key the copied secrets stay sealed with (default ./data)',
    )
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)')
    .addHelpText(
      'after',
      `
Stop every server using the source first: rows written during the copy would be missed. The target's
schema is created (migrated) and must hold no rows. Sealed secrets are copied as they are: keep the
data dir (its master.key) and point it at the new store with --store / store.url.

Example:
  ferry store copy --from /var/lib/ferry/ferry.db --to postgres://ferry@db.example:5432/ferry --data-dir /var/lib/ferry`,
    )
    .action(async (flags: CopyFlags) => {
      const from = location(flags.from);
      const to = location(flags.to);
      if (from === to) throw new CliError('--from and --to name the same store', 2);
      const { openStoreDatabase } = await import('../store/open-database.js');
      const { copyStoreRows, countRows, COPIED_TABLES } = await import('../store/copy.js');
      const { redactUrl } = await import('../store/postgres/errors.js');
      const name = (l: string) => (l.startsWith('/') ? l : redactUrl(l));
      const source = await openStoreDatabase(from, true);
      let copied: Awaited<ReturnType<typeof copyStoreRows>>;
      let expected: Awaited<ReturnType<typeof countRows>>;
      try {
        const target = await openStoreDatabase(to, false);
        try {
          expected = await countRows(source.db);
          copied = await copyStoreRows(source.db, target.db, target.dialect);
          const counted = await countRows(target.db);
          const differ = COPIED_TABLES.filter((t) => counted[t] !== expected[t]);
          if (differ.length > 0)
            throw new CliError(
              `copy check failed: ${differ.map((t) => `${t} ${expected[t]} in the source, ${counted[t]} in the copy`).join('; ')}`,
            );
        } finally {
          await target.close();
        }
      } finally {
        await source.close();
      }
      for (const table of COPIED_TABLES)
        if (copied[table] > 0)
          process.stdout.write(`${table.padEnd(18)} ${String(copied[table]).padStart(9)}\n`);
      // The copy's chain verified on its own: every hash and signed checkpoint recomputed from the copied rows.
      const report = await withReadOnlyContext(
        { ...flags, store: to.startsWith('/') ? `sqlite:${to}` : to },
        (ctx) => ctx.admin.audit.verify({ publicKeys: [] }),
      );
      if (!report.ok)
        throw new CliError(
          `copied into ${name(to)}, but its audit chain does not verify${report.broken ? ` at seq ${report.broken.seq}: ${report.broken.problem}` : ''}`,
        );
      process.stdout.write(
        `copied ${name(from)} into ${name(to)}; audit chain verified in the copy: ${report.records} record(s)${report.lastSeq !== undefined ? `, head seq ${report.lastSeq} hash ${report.headHash}` : ''}\n`,
      );
    });
}
