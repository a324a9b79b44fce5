// What three active rules (webhook, e-mail, move) cost an upload: in one session, uploads they fire on against
// uploads none matches, and whole sessions with the rules on and off as a check; per-file work shows (many files).
import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SMTPServer } from 'smtp-server';
import type { Cleanup } from './cleanup.js';
import { treeCpuByPid } from './proc-stats.js';
import { markRunStart, markTimedEnd } from './profile-windows.js';
import { type Measurement, median, pairOrder } from './scenarios.js';
import type { BenchServer } from './servers.js';
import { type ClientContext, runBatch } from './sftp-client.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
const RULES = ['bench-webhook', 'bench-mail', 'bench-move'] as const;

/** A webhook receiver and an SMTP server on loopback, counting what reaches them; started before Ferry (its env). */
export interface RuleReceivers {
  readonly env: Record<string, string>;
  readonly webhookUrl: string;
  webhooks: number;
  mails: number;
  close(): Promise<void>;
}

export async function startRuleReceivers(cleanup: Cleanup): Promise<RuleReceivers> {
  const http: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      receivers.webhooks++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => {
        receivers.mails++;
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const close = async () => {
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  };
  const receivers: RuleReceivers = {
    env: {
      FERRY_SMTP_HOST: '127.0.0.1',
      FERRY_SMTP_PORT: String((smtp.server.address() as AddressInfo).port),
      FERRY_SMTP_FROM: 'ferry-bench@localhost',
    },
    webhookUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`,
    webhooks: 0,
    mails: 0,
    close,
  };
  cleanup.task(close);
  return receivers;
}

async function ferryCli(repo: string, dataDir: string, args: string[], input?: string): Promise<void> {
  const run = execFileAsync(process.execPath, ['bin/ferry.js', ...args, '--data-dir', dataDir], {
    cwd: repo,
  });
  if (input !== undefined) run.child.stdin?.end(input);
  await run;
}

/**
 * The three rules, on uploads of `/xfer/rules-in/fire-*`: a signed webhook, a mail, and a move to an archive folder.
 * A name, not a folder, tells the files they fire on from the others: the row compares the two kinds within one
 * folder because two folders alone made uploads differ by up to 15 % here, rules or none (stop 57).
 */
async function addRules(repo: string, dataDir: string, receivers: RuleReceivers): Promise<void> {
  const on = ['--on', 'upload', '--path', RULE_PATH];
  await ferryCli(
    repo,
    dataDir,
    [
      'rules',
      'add',
      'bench-webhook',
      ...on,
      '--action',
      'webhook',
      '--url',
      receivers.webhookUrl,
      '--secret-stdin',
    ],
    `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
  );
  await ferryCli(repo, dataDir, [
    'rules',
    'add',
    'bench-mail',
    ...on,
    '--action',
    'email',
    '--to',
    'ops@localhost',
  ]);
  await ferryCli(repo, dataDir, [
    'rules',
    'add',
    'bench-move',
    ...on,
    '--action',
    'move',
    '--target',
    '/xfer/rules-archive/{{name}}',
  ]);
}

async function setRules(repo: string, dataDir: string, enabled: boolean): Promise<void> {
  for (const rule of RULES) await ferryCli(repo, dataDir, ['rules', enabled ? 'enable' : 'disable', rule]);
  // Every process re-reads the rules within a second of a change.
  await new Promise((resolve) => setTimeout(resolve, 1500));
}

async function waitFor(
  what: string,
  done: () => Promise<boolean> | boolean,
  timeoutMs = 120_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > until) throw new Error(`rules bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits (untimed) until `files` uploads the rules fired on have had their webhooks (since `before`) and moves. */
async function deliveriesDone(receivers: RuleReceivers, before: number, files: number, archive: string) {
  await waitFor('webhooks', () => receivers.webhooks - before >= files);
  await waitFor('moves', async () => (await readdir(archive)).length >= files);
}

interface RowOptions {
  readonly repo: string;
  readonly dataDir: string;
  readonly ferry: BenchServer;
  readonly client: ClientContext;
  readonly receivers: RuleReceivers;
  readonly source: { readonly path: string; readonly bytes: number };
  readonly files: number;
  readonly runs: number;
  readonly log: (line: string) => void;
}

/** What the three rules fire on; `blockNames` gives the other half of a session's uploads names beside it. */
export const RULE_PATH = '/xfer/rules-in/fire-*';

/** Files per block of the row's sessions: long enough that a block's neighbour matters little, short against drift. */
const BLOCK_FILES = 10;

/**
 * The row: what three firing rules cost an upload, measured where the machine's drift cannot enter. Each run is
 * one session of `2 × files` uploads into `/xfer/rules-in/` in blocks of 10, taking turns (A B B A) between names
 * the three rules fire on (`fire-*`) and names no rule matches (`calm-*`); the rules are enabled throughout, so the
 * calm files pay the matching too (a few µs). Ten untimed uploads to another folder lead each session in: a
 * session's first files are the slowest (its first block's put median up to twice the rest). Each kind's rate is
 * its bytes over the sum of its puts' times, and the row's ratio the median of the sessions' ratios (paired).
 * Runs seconds apart differ here by ±10–15 % whatever they do (docs/PERFORMANCE.md, stops 45–56), more than what
 * the rules cost, so whole sessions with the rules on and off are compared after the row, as a check.
 */
export async function rulesOverhead(options: RowOptions): Promise<Measurement> {
  const { repo, dataDir, ferry, receivers, files } = options;
  await addRules(repo, dataDir, receivers);
  const dirs = {
    inbox: join(ferry.localDir, 'rules-in'),
    archive: join(ferry.localDir, 'rules-archive'),
    lead: join(ferry.localDir, 'rules-lead'),
  };
  const clear = async () => {
    for (const dir of Object.values(dirs)) await rm(dir, { recursive: true, force: true });
  };
  // Untimed: the first run with rules loads the action runners, opens the SMTP connection and fills the caches.
  // Twice: sessions take turns between the workers, and one warm-up left the first timed run to a worker whose
  // code was still cold.
  await setRules(repo, dataDir, true);
  for (let warmUp = 0; warmUp < 2; warmUp++) {
    await blockSession(options, warmUp, dirs.archive, `warm-up ${warmUp + 1} (not counted)`);
    await clear();
  }
  const runs = { ferry: [] as number[], openssh: [] as number[] };
  for (let run = 0; run < options.runs; run++) {
    const { firing, plain } = await blockSession(options, run, dirs.archive, `session ${run + 1}`);
    runs.ferry.push(firing);
    runs.openssh.push(plain);
    await clear();
  }
  const ratios = runs.ferry.map((on, i) => on / runs.openssh[i]!);
  options.log(
    `  rules firing / no rule matching, by session: ${ratios.map((r) => r.toFixed(3)).join(' ')} (median ${median(ratios).toFixed(3)})`,
  );
  await wholeSessions({ ...options, archive: dirs.archive, clear });
  return {
    id: 'upload-with-rules',
    label: `upload ${files}×${options.source.bytes / MIB} MiB with 3 rules firing (OpenSSH column: Ferry, the same sessions' uploads no rule matches)`,
    unit: 'MiB/s',
    better: 'higher',
    runs,
    paired: true,
    target: { kind: 'ratio-at-least', value: 0.95 },
  };
}

/** Which block of a row's session goes where the rules fire: A B B A, the other kind first in odd runs. */
export function blockFires(run: number, block: number): boolean {
  const first = block % 4 === 0 || block % 4 === 3;
  return run % 2 === 0 ? first : !first;
}

/** The i-th upload's path: one `RULE_PATH` matches when the rules are to fire on it, one beside it otherwise. */
function uploadPath(fires: boolean, i: number): string {
  return `/xfer/rules-in/${fires ? 'fire' : 'calm'}-${i}.bin`;
}

/** A session's uploads after its lead-in: `count` names in blocks, each saying whether the rules fire on it. */
export function blockNames(run: number, count: number): { path: string; fires: boolean }[] {
  return Array.from({ length: count }, (_, i) => {
    const fires = blockFires(run, Math.floor(i / BLOCK_FILES));
    return { path: uploadPath(fires, i), fires };
  });
}

/** One session of the row: both kinds' rates (MiB/s over the sum of their puts' times), deliveries awaited untimed. */
async function blockSession(
  options: RowOptions,
  run: number,
  archive: string,
  label: string,
): Promise<{ firing: number; plain: number }> {
  const { files, receivers } = options;
  // An even number of blocks: as many files of each kind.
  const names = blockNames(run, 2 * Math.max(1, Math.round(files / BLOCK_FILES)) * BLOCK_FILES);
  const batch = [
    '-mkdir /xfer/rules-in',
    '-mkdir /xfer/rules-archive',
    '-mkdir /xfer/rules-lead',
    ...Array.from({ length: BLOCK_FILES }, (_, i) => `put ${options.source.path} /xfer/rules-lead/f${i}.bin`),
    ...names.map((n) => `put ${options.source.path} ${n.path}`),
    'pwd',
    '',
  ].join('\n');
  const webhooksBefore = receivers.webhooks;
  const cpuBefore = await treeCpuByPid(options.ferry.pid);
  markRunStart();
  const result = await runBatch(options.ferry, options.client, batch);
  markTimedEnd('puts with and without rules');
  const deliveredDuring = receivers.webhooks - webhooksBefore;
  // Each put's time, echo to echo (three -mkdir lines and the lead-in come first): its open, writes and close,
  // which waits for the outbox's rows of a firing file.
  const first = 3 + BLOCK_FILES;
  const puts = names.map((_, i) => result.marks[first + i + 1]! - result.marks[first + i]!);
  const of = (fire: boolean) => puts.filter((_, i) => names[i]!.fires === fire);
  const fired = of(true);
  await deliveriesDone(receivers, webhooksBefore, fired.length, archive);
  const cpu = [...(await treeCpuByPid(options.ferry.pid))].reduce(
    (sum, [pid, ms]) => sum + ms - (cpuBefore.get(pid) ?? 0),
    0,
  );
  const rate = (times: number[]) =>
    (options.source.bytes * times.length) / MIB / (times.reduce((a, b) => a + b, 0) / 1000);
  const firing = rate(fired);
  const plain = rate(of(false));
  options.log(
    `  ${label}: rules firing ${firing.toFixed(0)} MiB/s (put median ${median(fired).toFixed(1)} ms), no rule matching ${plain.toFixed(0)} MiB/s (${median(of(false)).toFixed(1)} ms): ${(firing / plain).toFixed(3)}×;` +
      ` Ferry CPU ${(cpu / (BLOCK_FILES + puts.length)).toFixed(1)} ms/file (lead-in and deliveries included), webhooks during the puts ${deliveredDuring}`,
  );
  return { firing, plain };
}

/**
 * A check after the row, not part of its ratio: whole sessions of `files` uploads with the rules enabled and
 * disabled in alternating pairs (`pairOrder`), the row's method until stop 56. After a run with rules, the
 * deliveries are awaited (untimed) so one run's queued work never slows the next.
 */
async function wholeSessions(
  options: RowOptions & { readonly archive: string; readonly clear: () => Promise<void> },
): Promise<void> {
  const { repo, dataDir, ferry, receivers, files, archive } = options;
  const batch = [
    '-mkdir /xfer/rules-in',
    '-mkdir /xfer/rules-archive',
    ...Array.from({ length: files }, (_, i) => `put ${options.source.path} ${uploadPath(true, i)}`),
    'pwd',
    '',
  ].join('\n');
  const runs = { on: [] as number[], off: [] as number[] };
  const mib = (options.source.bytes * files) / MIB;
  for (let run = 0; run < options.runs; run++) {
    // A fixed on-off order put every run with rules on one worker and every run without on the other.
    for (const withRules of pairOrder(run, true, false)) {
      await setRules(repo, dataDir, withRules);
      const webhooksBefore = receivers.webhooks;
      const ferryCpuBefore = await treeCpuByPid(ferry.pid);
      markRunStart();
      const result = await runBatch(ferry, options.client, batch);
      markTimedEnd(`puts ${withRules ? 'with' : 'without'} rules`);
      // From the first put's start to pwd's: the two -mkdir lines come before.
      const rate = mib / ((result.marks[2 + files]! - result.marks[2]!) / 1000);
      (withRules ? runs.on : runs.off).push(rate);
      if (withRules) await deliveriesDone(receivers, webhooksBefore, files, archive);
      const byPid = [...(await treeCpuByPid(ferry.pid))]
        .map(([pid, ms]) => (ms - (ferryCpuBefore.get(pid) ?? 0)) / files)
        .sort((a, b) => b - a);
      options.log(
        `  whole session, rules ${withRules ? 'on' : 'off'}: ${rate.toFixed(0)} MiB/s (Ferry CPU ${byPid.reduce((a, b) => a + b, 0).toFixed(1)} ms/file: ${byPid.map((ms) => ms.toFixed(1)).join(' + ')} by process)`,
      );
      await options.clear();
    }
  }
  const pairs = runs.on.map((on, i) => on / runs.off[i]!);
  options.log(
    `  check, whole sessions rules on / off: ${(median(runs.on) / median(runs.off)).toFixed(2)}× (${median(runs.on).toFixed(0)} / ${median(runs.off).toFixed(0)} MiB/s; by pair ${pairs.map((r) => r.toFixed(2)).join(' ')}, median ${median(pairs).toFixed(2)})`,
  );
}
