// Upload throughput of Ferry with three active rules (webhook, e-mail, move) against the same Ferry with them
// disabled, alternating runs on one server: what rules cost an upload, where per-file work shows (many files).
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

/** The three rules, on uploads under `/xfer/rules-in/`: a signed webhook, a mail, and a move to an archive folder. */
async function addRules(repo: string, dataDir: string, receivers: RuleReceivers): Promise<void> {
  const on = ['--on', 'upload', '--path', '/xfer/rules-in/*'];
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

/** Waits (untimed) until every upload of a run with the rules has had its webhook (since `before`) and its move. */
async function deliveriesDone(receivers: RuleReceivers, before: number, files: number, archive: string) {
  await waitFor('webhooks', () => receivers.webhooks - before >= files);
  await waitFor('moves', async () => (await readdir(archive)).length >= files);
}

/**
 * `files` uploads of `source` in one session per run, with the rules enabled and disabled in alternating pairs
 * (`pairOrder`); the OpenSSH column of this row is the same Ferry with the rules disabled. After a run with rules,
 * the deliveries are awaited (untimed) so one run's queued work never slows the next.
 */
export async function rulesOverhead(options: {
  readonly repo: string;
  readonly dataDir: string;
  readonly ferry: BenchServer;
  readonly client: ClientContext;
  readonly receivers: RuleReceivers;
  readonly source: { readonly path: string; readonly bytes: number };
  readonly files: number;
  readonly runs: number;
  readonly log: (line: string) => void;
}): Promise<Measurement> {
  const { repo, dataDir, ferry, receivers, files } = options;
  await addRules(repo, dataDir, receivers);
  const inbox = join(ferry.localDir, 'rules-in');
  const archive = join(ferry.localDir, 'rules-archive');
  const batch = [
    '-mkdir /xfer/rules-in',
    '-mkdir /xfer/rules-archive',
    ...Array.from({ length: files }, (_, i) => `put ${options.source.path} /xfer/rules-in/f${i}.bin`),
    'pwd',
    '',
  ].join('\n');
  const runs = { ferry: [] as number[], openssh: [] as number[] };
  // Untimed: the first run with rules loads the action runners, opens the SMTP connection and fills the caches.
  // Twice: sessions take turns between the workers, and one warm-up left the first timed run (always with rules)
  // to a worker whose code was still cold.
  await setRules(repo, dataDir, true);
  for (let warmUp = 0; warmUp < 2; warmUp++) {
    const warm = receivers.webhooks;
    await runBatch(ferry, options.client, batch);
    await deliveriesDone(receivers, warm, files, archive);
    await rm(inbox, { recursive: true, force: true });
    await rm(archive, { recursive: true, force: true });
  }
  const mib = (options.source.bytes * files) / MIB;
  for (let run = 0; run < options.runs; run++) {
    // A fixed on-off order put every run with rules on one worker and every run without on the other, and only
    // runs without rules followed a run without deliveries, whose worker was still collecting its garbage during
    // the next run (a profile showed it).
    for (const withRules of pairOrder(run, true, false)) {
      await setRules(repo, dataDir, withRules);
      const webhooksBefore = receivers.webhooks;
      // CPU of Ferry (all its processes) and of this process (the receivers) for the run and its deliveries:
      // on a shared machine it says what rules cost more steadily than the throughput does.
      const ferryCpuBefore = await treeCpuByPid(ferry.pid);
      const benchCpuBefore = process.cpuUsage();
      markRunStart();
      const result = await runBatch(ferry, options.client, batch);
      // In a profile: the uploads' window ('puts with rules' / 'puts without rules'), apart from the deliveries.
      markTimedEnd(`puts ${withRules ? 'with' : 'without'} rules`);
      const deliveredDuring = receivers.webhooks - webhooksBefore;
      // From the first put's start to pwd's: the two -mkdir lines come before.
      const ms = result.marks[2 + files]! - result.marks[2]!;
      // Each put's time, echo to echo: its open, writes and close (the close waits for the outbox commit).
      const puts = Array.from({ length: files }, (_, i) => result.marks[3 + i]! - result.marks[2 + i]!).sort(
        (a, b) => a - b,
      );
      const rate = mib / (ms / 1000);
      (withRules ? runs.ferry : runs.openssh).push(rate);
      if (withRules) await deliveriesDone(receivers, webhooksBefore, files, archive);
      // Per process too: which worker served the session and which ran the deliveries.
      const byPid = [...(await treeCpuByPid(ferry.pid))]
        .map(([pid, ms]) => ({ pid, ms: (ms - (ferryCpuBefore.get(pid) ?? 0)) / files }))
        .sort((a, b) => b.ms - a.ms);
      const perProcess = byPid.map((p) => p.ms);
      const ferryCpu = perProcess.reduce((sum, ms) => sum + ms, 0) * files;
      const benchCpu = process.cpuUsage(benchCpuBefore);
      options.log(
        `  upload ${files}×${options.source.bytes / MIB} MiB, rules ${withRules ? 'on' : 'off'}: ${rate.toFixed(0)} MiB/s` +
          ` (put median ${puts[files >> 1]!.toFixed(1)} ms, p90 ${puts[Math.floor(files * 0.9)]!.toFixed(1)} ms;` +
          ` Ferry CPU ${(ferryCpu / files).toFixed(1)} ms/file (${perProcess.map((ms) => ms.toFixed(1)).join(' + ')} by process, pid ${byPid[0]?.pid} first), receivers ${((benchCpu.user + benchCpu.system) / 1000 / files).toFixed(1)} ms/file, webhooks during the puts ${deliveredDuring})`,
      );
      await rm(inbox, { recursive: true, force: true });
      await rm(archive, { recursive: true, force: true });
    }
  }
  // Each pair's ratio too (its two runs were next to each other): a machine that speeds up or slows down over the
  // row moves the medians, not these.
  const pairs = runs.ferry.map((on, i) => on / runs.openssh[i]!);
  const middle = [...pairs].sort((a, b) => a - b)[pairs.length >> 1]!;
  options.log(
    `  rules on / off by pair: ${pairs.map((r) => r.toFixed(2)).join(' ')} (median ${middle.toFixed(2)})`,
  );
  await interleaved({ ...options, inbox, archive });
  return {
    id: 'upload-with-rules',
    label: `upload ${files}×${options.source.bytes / MIB} MiB with 3 rules (OpenSSH column: Ferry, rules off)`,
    unit: 'MiB/s',
    better: 'higher',
    runs,
    target: { kind: 'ratio-at-least', value: 0.95 },
  };
}

/**
 * Not part of the row's ratio, a check on it: runs seconds apart differ here by up to ±15 % whatever they do, more
 * than what the rules cost. One session with the rules on sends half the files where no rule matches, so each
 * file the rules fire on has a neighbour ~15 ms away that they leave alone; the two puts' medians tell what the
 * rules add to a put with the machine's drift taken out (the matching itself, which both pay, excepted).
 */
async function interleaved(options: {
  readonly repo: string;
  readonly dataDir: string;
  readonly ferry: BenchServer;
  readonly client: ClientContext;
  readonly receivers: RuleReceivers;
  readonly source: { readonly path: string };
  readonly files: number;
  readonly inbox: string;
  readonly archive: string;
  readonly log: (line: string) => void;
}): Promise<void> {
  const { files, receivers } = options;
  const plain = join(options.ferry.localDir, 'rules-plain');
  // In pairs that take turns (A B B A): a file right after another put faster or slower here depending on which
  // came first (1.03–1.06× with the rules' files first, 0.98–0.99× second), so each kind takes both places.
  const firing = (i: number) => i % 4 === 0 || i % 4 === 3;
  const batch = [
    '-mkdir /xfer/rules-in',
    '-mkdir /xfer/rules-archive',
    '-mkdir /xfer/rules-plain',
    ...Array.from({ length: files * 2 }, (_, i) =>
      firing(i)
        ? `put ${options.source.path} /xfer/rules-in/f${i}.bin`
        : `put ${options.source.path} /xfer/rules-plain/f${i}.bin`,
    ),
    'pwd',
    '',
  ].join('\n');
  await setRules(options.repo, options.dataDir, true);
  const before = receivers.webhooks;
  const result = await runBatch(options.ferry, options.client, batch);
  const put = (i: number) => result.marks[4 + i]! - result.marks[3 + i]!;
  const all = Array.from({ length: files * 2 }, (_, i) => i);
  const matched = all.filter(firing).map(put);
  const unmatched = all.filter((i) => !firing(i)).map(put);
  await deliveriesDone(receivers, before, files, options.archive);
  for (const dir of [options.inbox, options.archive, plain]) await rm(dir, { recursive: true, force: true });
  const on = median(matched);
  const off = median(unmatched);
  options.log(
    `  one session, half the files to a path no rule matches: put median ${on.toFixed(1)} ms with the rules firing, ${off.toFixed(1)} ms without (${(off / on).toFixed(2)}×)`,
  );
}
