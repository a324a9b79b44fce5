// `ferry jobs ...`: scheduled pull/push transfers with partners; `run` works now, with a progress bar.
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { jobView as view } from '../admin/jobs.js';
import type { TransferRunRecord } from '../store/types.js';
import { formatBytes, formatDuration, parseDuration } from '../transfers/timing.js';
import {
  CliError,
  type DataDirOption,
  STORE_OPTION_HELP,
  withContext,
  withReadOnlyContext,
} from './common.js';
import { commandDescription } from './descriptions.js';
import { progressBar } from './progress.js';

function runView(r: TransferRunRecord) {
  return {
    id: r.id,
    trigger: r.trigger,
    status: r.status,
    attempts: r.attempts,
    started: r.startedAt.toISOString(),
    finished: r.finishedAt?.toISOString() ?? null,
    durationMs: r.durationMs,
    bytes: r.bytes,
    files: r.files,
    error: r.error,
  };
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new CliError(`${name} must be a number, got '${value}'`, 2);
  return Number(value);
}

/** `a,b` → ['a', 'b']; absent → []. */
function keyList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
}

export function registerJobsCommand(program: Command): void {
  const jobs = program
    .command('jobs')
    .description(commandDescription('jobs'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  jobs
    .command('add')
    .description('define a job')
    .argument('<name>', 'job name')
    .requiredOption('--partner <name>', 'partner (see ferry partners list)')
    .requiredOption('--direction <dir>', 'pull (partner → here) or push (here → partner)')
    .requiredOption('--remote-dir <dir>', 'directory on the partner')
    .requiredOption('--local-dir <dir>', 'directory here')
    .option('--pattern <globs>', 'file names to transfer, comma-separated globs', '*')
    .option('--schedule <cron>', "cron expression, e.g. '*/5 * * * *' (without it the job runs only by hand)")
    .option(
      '--after <action>',
      'then: keep (remember it), delete, or move:DIR (relative to the source dir)',
      'keep',
    )
    .option('--retries <n>', 'retries after a failed attempt', '0')
    .option('--backoff <duration>', 'wait before the first retry, doubled each time (e.g. 30s, 5m)', '30s')
    .option(
      '--encrypt-to <keys>',
      'push: encrypt each file for these OpenPGP keys (names, fingerprints or key ids, comma-separated) and send NAME.pgp',
    )
    .option('--sign-with <key>', 'push: also sign with this OpenPGP key (Ferry must hold its private half)')
    .option('--armor', 'push: ASCII-armored messages (NAME.asc)')
    .option(
      '--decrypt',
      'pull: decrypt each NAME.pgp/.gpg/.asc into NAME (refused files go to LOCAL-DIR/quarantine)',
    )
    .option('--verify <keys>', 'pull: require a valid signature by one of these OpenPGP keys')
    .action(
      async (
        name: string,
        o: {
          encryptTo?: string;
          signWith?: string;
          armor?: boolean;
          decrypt?: boolean;
          verify?: string;
          partner: string;
          direction: string;
          remoteDir: string;
          localDir: string;
          pattern: string;
          schedule?: string;
          after: string;
          retries: string;
          backoff: string;
        },
        cmd: Command,
      ) => {
        await withContext(opts(cmd), async (ctx) => {
          const job = await ctx.admin.jobs.add(cliActor(), {
            name,
            partner: o.partner,
            direction: o.direction,
            remoteDir: o.remoteDir,
            localDir: o.localDir,
            pattern: o.pattern,
            schedule: o.schedule ?? null,
            after: o.after,
            retries: integer('--retries', o.retries),
            backoffMs: parseDuration(o.backoff),
            encryptTo: keyList(o.encryptTo),
            ...(o.signWith ? { signWith: o.signWith } : {}),
            armor: o.armor ?? false,
            decrypt: o.decrypt ?? false,
            verify: keyList(o.verify),
          });
          process.stdout.write(
            `job ${name} added: ${job.direction} ${job.partner}:${job.remoteDir} ${job.direction === 'pull' ? '→' : '←'} ${job.localDir}${job.schedule ? ` on '${job.schedule}'` : ' (run by hand)'}\n`,
          );
        });
      },
    );

  jobs
    .command('set')
    .description("change a job's schedule, retries, backoff or OpenPGP step")
    .argument('<name>', 'job name')
    .option('--schedule <cron>', "cron expression; 'none' to run only by hand")
    .option('--retries <n>', 'retries after a failed attempt')
    .option('--backoff <duration>', 'wait before the first retry, doubled each time (e.g. 30s, 5m)')
    .option('--encrypt-to <keys>', 'push: replace the OpenPGP step: encrypt for these keys (comma-separated)')
    .option('--sign-with <key>', 'push: and sign with this key')
    .option('--armor', 'push: ASCII-armored messages')
    .option('--decrypt', 'pull: replace the OpenPGP step: decrypt NAME.pgp/.gpg/.asc')
    .option('--verify <keys>', 'pull: and require a signature by one of these keys')
    .option('--no-pgp', 'remove the OpenPGP step')
    .action(
      async (
        name: string,
        o: {
          schedule?: string;
          retries?: string;
          backoff?: string;
          encryptTo?: string;
          signWith?: string;
          armor?: boolean;
          decrypt?: boolean;
          verify?: string;
          pgp?: boolean;
        },
        cmd: Command,
      ) => {
        await withContext(opts(cmd), async (ctx) => {
          const job = await ctx.admin.jobs.set(cliActor(), {
            name,
            ...(o.encryptTo !== undefined ? { encryptTo: keyList(o.encryptTo) } : {}),
            ...(o.signWith !== undefined ? { signWith: o.signWith } : {}),
            ...(o.armor ? { armor: true } : {}),
            ...(o.decrypt ? { decrypt: true } : {}),
            ...(o.verify !== undefined ? { verify: keyList(o.verify) } : {}),
            ...(o.pgp === false ? { noPgp: true } : {}),
            ...(o.schedule !== undefined ? { schedule: o.schedule === 'none' ? null : o.schedule } : {}),
            ...(o.retries !== undefined ? { retries: integer('--retries', o.retries) } : {}),
            ...(o.backoff !== undefined ? { backoffMs: parseDuration(o.backoff) } : {}),
          });
          const v = view(job);
          process.stdout.write(
            `job ${name}: ${v.schedule ? `on '${v.schedule}'` : 'run by hand'}, ${v.retries} retries, backoff ${v.backoff}\n`,
          );
        });
      },
    );

  jobs
    .command('list')
    .description('list jobs')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = (await ctx.admin.jobs.list()).map(view);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          'NAME             PARTNER          DIR   PATTERN      SCHEDULE         ENABLED\n',
        );
        for (const j of all) {
          process.stdout.write(
            `${j.name.padEnd(16)} ${j.partner.padEnd(16)} ${j.direction.padEnd(5)} ${j.pattern.padEnd(12)} ${(j.schedule ?? '-').padEnd(16)} ${j.enabled ? 'yes' : 'no'}\n`,
          );
        }
      });
    });

  jobs
    .command('run')
    .description('run a job now (refused while it is already running)')
    .argument('<name>')
    .option('--json', 'print the run record as JSON')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const bar = progressBar();
        const abort = new AbortController();
        const onSignal = () => abort.abort();
        process.once('SIGINT', onSignal);
        let run: TransferRunRecord;
        try {
          run = await ctx.admin.jobs.run(cliActor(), name, {
            signal: abort.signal,
            onFile: (file, size) => bar.start(file, size),
            onProgress: (_file, done, total) => bar.update(done, total),
            onFileDone: (file, r) => {
              bar.stop();
              process.stderr.write(
                `${file}: ${formatBytes(r.bytes)}${r.resumedFrom ? ` (resumed at ${formatBytes(r.resumedFrom)})` : ''}, ${r.verified === 'size' ? 'size checked' : `SHA-256 ${r.verified}`}${r.sha256 ? ` ${r.sha256.slice(0, 16)}…` : ''}\n`,
              );
            },
            onRetry: (attempt, delay, err) => {
              bar.stop();
              process.stderr.write(
                `attempt ${attempt} failed: ${err.message}; retrying in ${formatDuration(delay)}\n`,
              );
            },
          });
        } finally {
          bar.stop();
          process.off('SIGINT', onSignal);
        }
        if (o.json) process.stdout.write(`${JSON.stringify(runView(run), null, 2)}\n`);
        else
          process.stdout.write(
            `job ${name}: ${run.status}, ${run.files.length} file(s), ${formatBytes(run.bytes)} in ${formatDuration(run.durationMs)}${run.attempts > 1 ? `, ${run.attempts} attempts` : ''}${run.error ? `: ${run.error}` : ''}\n`,
          );
        if (run.status !== 'ok') throw new CliError(`job ${name} failed`);
      });
    });

  jobs
    .command('history')
    .description('recent runs of a job, newest first')
    .argument('<name>')
    .option('--limit <n>', 'how many runs', '20')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { limit: string; json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const runs = await ctx.admin.jobs.history(name, integer('--limit', o.limit));
        if (o.json) {
          process.stdout.write(`${JSON.stringify(runs.map(runView), null, 2)}\n`);
          return;
        }
        process.stdout.write(
          'RUN   STARTED                   TRIGGER   STATUS   FILES  BYTES       TIME     ERROR\n',
        );
        for (const r of runs) {
          process.stdout.write(
            `${String(r.id).padEnd(5)} ${r.startedAt.toISOString().padEnd(25)} ${r.trigger.padEnd(9)} ${r.status.padEnd(8)} ${String(r.files.length).padEnd(6)} ${formatBytes(r.bytes).padEnd(11)} ${formatDuration(r.durationMs).padEnd(8)} ${r.error ?? ''}\n`,
          );
        }
      });
    });

  for (const [command, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    jobs
      .command(command)
      .description(`${command} a job's schedule`)
      .argument('<name>')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        await withContext(opts(cmd), async (ctx) => {
          await ctx.admin.jobs.setEnabled(cliActor(), name, enabled);
          process.stdout.write(`job ${name} ${command}d\n`);
        });
      });
  }

  jobs
    .command('remove')
    .description('remove a job with its history and ledger')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.jobs.remove(cliActor(), name);
        process.stdout.write(`job ${name} removed\n`);
      });
    });
}
