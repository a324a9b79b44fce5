// `ferry audit ...`: tail, query, verify, export and prune the tamper-evident audit trail in the data dir.
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { verifyAuditExport } from '../admin/audit.js';
import { ANCHOR_LOG_NAME, type AuditAnchor, readAnchorLog } from '../audit/anchors.js';
import { CSV_COLUMNS, formatCsvRow, formatJsonLine, formatRecordLine } from '../audit/query.js';
import { type AuditVerifyKey, parseAuditVerifyKeys } from '../audit/signer.js';
import type { VerifyReport } from '../audit/verify.js';
import { DEFAULT_CHECKPOINT_INTERVAL } from '../audit/writer.js';
import { dataPaths } from '../data-dir.js';
import { AUDIT_ACTIONS, type AuditAction, type AuditRecord } from '../store/types.js';
import {
  CliError,
  configFromOptions,
  type DataDirOption,
  STORE_OPTION_HELP,
  withContext,
  withReadOnlyContext,
} from './common.js';
import { commandDescription } from './descriptions.js';

const FOLLOW_POLL_MS = 1000;
const UNITS_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO date/time, or a span back from now: 30m, 12h, 7d. */
export function parseTime(text: string, flag: string, now = Date.now()): string {
  const relative = /^(\d+)([smhd])$/.exec(text);
  const ms = relative ? now - Number(relative[1]) * UNITS_MS[relative[2]!]! : Date.parse(text);
  if (!Number.isFinite(ms))
    throw new CliError(`${flag}: '${text}' is not an ISO date/time or a span like 7d, 12h, 30m`, 2);
  return new Date(ms).toISOString();
}

function parseActions(values: readonly string[]): AuditAction[] | undefined {
  const actions = values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  for (const a of actions) {
    if (!(AUDIT_ACTIONS as readonly string[]).includes(a)) {
      throw new CliError(`--action: unknown action '${a}' (one of ${AUDIT_ACTIONS.join(', ')})`, 2);
    }
  }
  return actions.length > 0 ? (actions as AuditAction[]) : undefined;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new CliError(`${flag} must be a non-negative integer`, 2);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Writes lines with backpressure: a large export never piles up in memory. */
class LineSink {
  readonly #out: NodeJS.WritableStream;
  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
  }
  async line(text: string): Promise<void> {
    if (!this.#out.write(`${text}\n`)) await once(this.#out, 'drain');
  }
}

type OutputFormat = 'text' | 'json' | 'csv';

async function writeRecords(
  records: AsyncIterable<AuditRecord>,
  format: OutputFormat,
  sink: LineSink,
): Promise<number> {
  if (format === 'csv') await sink.line(CSV_COLUMNS.join(','));
  let n = 0;
  for await (const r of records) {
    await sink.line(
      format === 'json' ? formatJsonLine(r) : format === 'csv' ? formatCsvRow(r) : formatRecordLine(r),
    );
    n++;
  }
  return n;
}

/** Every ssh-ed25519 key of every given file (a file may hold several, e.g. current and retired host keys). */
function readVerifyKeys(files: readonly string[]): AuditVerifyKey[] {
  return files.flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
    }
    try {
      return parseAuditVerifyKeys(text).map((key) => ({ ...key, label: file }));
    } catch (err) {
      throw new CliError(`--public-key ${file}: ${(err as Error).message}`, 2);
    }
  });
}

async function readAnchors(file: string): Promise<AuditAnchor[]> {
  try {
    return await readAnchorLog(file);
  } catch (err) {
    throw new CliError(`cannot read the anchor log ${file}: ${(err as Error).message}`, 2);
  }
}

type KeySource = 'given' | 'store' | 'export';

const KEY_SOURCES: Readonly<Record<KeySource, string>> = {
  given: 'the given public key(s)',
  store:
    "the store's Ed25519 host keys, current and retired (give --public-key to check against keys kept elsewhere)",
  export: "the export's host key lines (give --public-key to check against keys kept elsewhere)",
};

function describeReport(report: VerifyReport, keySource: KeySource, anchorLog: string | undefined): string[] {
  const lines: string[] = [];
  const from =
    report.anchor?.source === 'genesis'
      ? 'from the first record ever written'
      : report.anchor?.source === 'retention'
        ? `from the retention cut at seq ${report.anchor.seq}`
        : report.anchor
          ? `anchored at the export's first prevHash ${report.anchor.prevHash}`
          : '';
  if (report.broken) {
    lines.push(`audit trail BROKEN at seq ${report.broken.seq}: ${report.broken.problem}`);
    lines.push(`${report.records} record(s) before it verified${from ? ` ${from}` : ''}`);
    return lines;
  }
  if (report.records === 0) return ['audit trail verified: no records'];
  lines.push(
    `audit trail verified: ${report.records} record(s), seq ${report.firstSeq}..${report.lastSeq} ${from}`,
  );
  lines.push(`head: seq ${report.lastSeq} hash ${report.headHash}`);
  const signatures =
    report.checkpoints === 0
      ? 'none yet'
      : `all signed, ${report.verifiedSignatures} signature(s) verified with ${KEY_SOURCES[keySource]}`;
  lines.push(
    `checkpoints: ${report.checkpoints} (${signatures})${report.lastCheckpointSeq !== undefined ? `; newest at seq ${report.lastCheckpointSeq}` : ''}`,
  );
  for (const s of report.signers) {
    lines.push(
      `  signed by ${s.fingerprint}${s.label ? ` (${s.label})` : ''}: ${s.checkpoints} checkpoint(s), seq ${s.firstSeq}..${s.lastSeq}`,
    );
  }
  if (report.checkpointInterval > 0)
    lines.push(
      `checkpoint interval: at most ${report.checkpointInterval} records between signed checkpoints`,
    );
  if (anchorLog !== undefined) {
    lines.push(
      report.newestAnchorSeq !== undefined
        ? `anchor log ${anchorLog}: ${report.anchorsChecked} anchor(s) match the chain; newest at seq ${report.newestAnchorSeq}`
        : `anchor log ${anchorLog}: empty`,
    );
  } else {
    lines.push(
      'anchor log: none read (records after the newest checkpoint an outsider holds can be removed unnoticed)',
    );
  }
  return lines;
}

export function registerAuditCommand(program: Command): void {
  const audit = program
    .command('audit')
    .description(commandDescription('audit'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  audit
    .command('tail')
    .description('print the newest records; --follow keeps printing new ones until interrupted')
    .option('-n, --lines <n>', 'how many records', '20')
    .option('-f, --follow', 'keep printing records as they are written')
    .option('--json', 'one JSON object per line (every chain field)')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (o: { lines: string; follow?: boolean; json?: boolean }, cmd: Command) => {
      const count = positiveInt(o.lines, '--lines');
      const format: OutputFormat = o.json ? 'json' : 'text';
      const sink = new LineSink(process.stdout);
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const trail = ctx.admin.audit;
        const first = await trail.tail(count);
        let lastSeq = first.at(-1)?.seq ?? (await trail.tail(1))[0]?.seq ?? 0;
        for (const r of first) await sink.line(format === 'json' ? formatJsonLine(r) : formatRecordLine(r));
        if (!o.follow) return;
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          while (!stop.signal.aborted) {
            for await (const r of trail.query({ afterSeq: lastSeq })) {
              await sink.line(format === 'json' ? formatJsonLine(r) : formatRecordLine(r));
              lastSeq = r.seq;
            }
            await sleep(FOLLOW_POLL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });

  audit
    .command('query')
    .description('print the records matching every given filter, oldest first')
    .option('--user <name>', 'SFTP user (or, for admin records, the OS user who ran the command)')
    .option('--since <time>', 'from this ISO date/time, or a span back from now (7d, 12h, 30m)')
    .option('--until <time>', 'before this ISO date/time or span')
    .option('--action <actions>', `comma-separated (repeatable): ${AUDIT_ACTIONS.join(', ')}`, collect, [])
    .option(
      '--path <glob>',
      "path or rename/link target pattern: * and ? within a component, ** across, e.g. '/in/*'",
    )
    .option('--json', 'one JSON object per line (every chain field)')
    .option('--csv', 'CSV with a header row')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(
      async (
        o: {
          user?: string;
          since?: string;
          until?: string;
          action: string[];
          path?: string;
          json?: boolean;
          csv?: boolean;
        },
        cmd: Command,
      ) => {
        if (o.json && o.csv) throw new CliError('give --json or --csv, not both', 2);
        const actions = parseActions(o.action);
        const filter = {
          ...(o.user !== undefined ? { user: o.user } : {}),
          ...(actions ? { actions } : {}),
          ...(o.since !== undefined ? { since: parseTime(o.since, '--since') } : {}),
          ...(o.until !== undefined ? { until: parseTime(o.until, '--until') } : {}),
          ...(o.path !== undefined ? { pathGlob: o.path } : {}),
        };
        await withReadOnlyContext(opts(cmd), async (ctx) => {
          await writeRecords(
            ctx.admin.audit.query(filter),
            o.json ? 'json' : o.csv ? 'csv' : 'text',
            new LineSink(process.stdout),
          );
        });
      },
    );

  audit
    .command('verify')
    .description(
      'walk the hash chain (the store, or an export with --file); exit 1 at the first broken record',
    )
    .option('--file <export.jsonl>', 'verify a JSONL export offline instead of the store')
    .option(
      '--public-key <file>',
      'trusted ssh-ed25519 public key(s), one or more per file (repeatable): current and retired host keys. ' +
        "Default: the store's host keys (with --file: the export's)",
      collect,
      [],
    )
    .option(
      '--anchors <file>',
      `anchor log to check the chain against (default: ${ANCHOR_LOG_NAME} in the data dir when present; none for --file)`,
    )
    .option('--no-anchors', 'do not read an anchor log')
    .option(
      '--checkpoint-interval <n>',
      `signed checkpoints required at least every n records (default: the auditCheckpointInterval setting, ${DEFAULT_CHECKPOINT_INTERVAL}; 0: not checked)`,
    )
    .option('--json', 'print the report as JSON')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(
      async (
        o: {
          file?: string;
          publicKey: string[];
          anchors?: string | boolean;
          checkpointInterval?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const given = readVerifyKeys(o.publicKey);
        const flagInterval =
          o.checkpointInterval !== undefined
            ? positiveInt(o.checkpointInterval, '--checkpoint-interval')
            : undefined;
        let anchorLog = typeof o.anchors === 'string' ? o.anchors : undefined;
        const keySource: KeySource = given.length > 0 ? 'given' : o.file !== undefined ? 'export' : 'store';
        let report: VerifyReport;
        if (o.file !== undefined) {
          const anchors = anchorLog !== undefined ? await readAnchors(anchorLog) : undefined;
          report = await verifyAuditExport(o.file, {
            publicKeys: given,
            ...(flagInterval !== undefined ? { checkpointInterval: flagInterval } : {}),
            ...(anchors ? { anchors } : {}),
          });
        } else {
          const config = configFromOptions(opts(cmd));
          if (o.anchors === undefined || o.anchors === true) {
            const beside = dataPaths(config.dataDir).auditAnchors;
            if (existsSync(beside)) anchorLog = beside;
          }
          const anchors = anchorLog !== undefined ? await readAnchors(anchorLog) : undefined;
          report = await withReadOnlyContext(opts(cmd), (ctx) =>
            ctx.admin.audit.verify({
              publicKeys: given,
              ...(flagInterval !== undefined ? { checkpointInterval: flagInterval } : {}),
              ...(anchors ? { anchors } : {}),
            }),
          );
        }
        process.stdout.write(
          o.json
            ? `${JSON.stringify(report, null, 2)}\n`
            : `${describeReport(report, keySource, anchorLog).join('\n')}\n`,
        );
        if (!report.ok) process.exitCode = 1;
      },
    );

  audit
    .command('export')
    .description('write a contiguous range of the chain (verifiable offline when jsonl)')
    .requiredOption('--format <format>', 'jsonl (every chain field, for verify --file) or csv')
    .option('--since <time>', 'from the first record at or after this ISO date/time or span (7d, 12h)')
    .option('--until <time>', 'up to the last record before this ISO date/time or span')
    .option('--output <file>', 'write to this file (mode 0600) instead of standard output')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (o: { format: string; since?: string; until?: string; output?: string }, cmd: Command) => {
      if (o.format !== 'jsonl' && o.format !== 'csv')
        throw new CliError(`--format must be jsonl or csv, not '${o.format}'`, 2);
      const since = o.since !== undefined ? parseTime(o.since, '--since') : undefined;
      const until = o.until !== undefined ? parseTime(o.until, '--until') : undefined;
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        // A time range becomes a seq range: the export is contiguous, so its records link to each other.
        const { range, hostKeys, records } = await ctx.admin.audit.export({ since, until });
        const out = o.output !== undefined ? createWriteStream(o.output, { mode: 0o600 }) : process.stdout;
        if (o.output !== undefined) await once(out, 'open');
        if (o.format === 'jsonl') {
          // The public halves of every Ed25519 host key ever stored, retired ones too: the export verifies
          // offline after key rotations (`verify --file` reads these lines; they carry no seq).
          const sink = new LineSink(out);
          for (const k of hostKeys) await sink.line(JSON.stringify(k));
        }
        const n = await writeRecords(records, o.format === 'jsonl' ? 'json' : 'csv', new LineSink(out));
        if (o.output !== undefined) {
          out.end();
          await once(out, 'finish');
          process.stderr.write(
            `exported ${n} record(s)${range ? ` (seq ${range.first}..${range.last})` : ''} to ${o.output}\n`,
          );
        }
      });
    });

  audit
    .command('prune')
    .description('delete records older than the retention period, keeping the chain verifiable from the cut')
    .option('--days <n>', 'keep this many days (default: the auditRetentionDays setting)')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (o: { days?: string }, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const days = o.days !== undefined ? positiveInt(o.days, '--days') : ctx.config.auditRetentionDays;
        if (days === 0) throw new CliError('retention is off (auditRetentionDays is 0): give --days N', 2);
        const result = await ctx.admin.audit.prune(cliActor(), days);
        process.stdout.write(
          result.record
            ? `pruned ${result.deleted} record(s) older than ${result.before}; retention record seq ${result.record.seq}\n`
            : `nothing older than ${result.before}\n`,
        );
      });
    });
}
