// Runs issue 22's MFT-shaped rows that were asked for (small files, many sessions, password logins, Ferry's
// own client) and one more (sessions after a pause) on the already started servers, in that order, then the
// floors that bound them (bench/floor.ts).
import { join } from 'node:path';
import { ferryClient, passwordAccounts, passwordLogins } from './client-logins.js';
import { writeRandomFile } from './files.js';
import { floorRows } from './floor.js';
import { manySessions, smallFiles } from './mft-workloads.js';
import { sessionsAfterPauses } from './pauses.js';
import type { Plan, Scenario } from './plan.js';
import type { Measurement, ScenarioContext } from './scenarios.js';
import type { BenchLayout } from './servers.js';

const MIB = 1024 * 1024;

export async function mftRows(o: {
  only: ReadonlySet<Scenario>;
  plan: Plan;
  repo: string;
  layout: BenchLayout;
  ctx: (runs: number) => ScenarioContext;
}): Promise<Measurement[]> {
  const { only, plan, ctx } = o;
  const log = ctx(1).log;
  const out: Measurement[] = [];
  if (only.has('smallfiles')) {
    log(
      `small files: ${plan.smallFiles} × ${plan.smallBytes} B up and down, ${plan.smallRuns} runs per server`,
    );
    out.push(...(await smallFiles(ctx(plan.smallRuns), plan.smallFiles, plan.smallBytes)));
  }
  if (only.has('pauses')) {
    log(
      `pauses: ${plan.pauseFiles} × ${plan.smallBytes} B up after ${plan.pauseSeconds} s idle, ${plan.pauseRuns} runs per server after ${plan.pauseWarmSessions} untimed sessions`,
    );
    out.push(
      ...(await sessionsAfterPauses(ctx(plan.pauseRuns), {
        files: plan.pauseFiles,
        bytes: plan.smallBytes,
        pauseSeconds: plan.pauseSeconds,
        warmSessions: plan.pauseWarmSessions,
      })),
    );
  }
  if (only.has('sessions')) {
    log(
      `sessions: ${plan.sessions} at once × ${plan.sessionFiles} files of ${plan.sessionBytes / MIB} MiB, ${plan.sessionRuns} runs per server`,
    );
    out.push(
      ...(await manySessions(ctx(plan.sessionRuns), {
        sessions: plan.sessions,
        files: plan.sessionFiles,
        bytes: plan.sessionBytes,
      })),
    );
  }
  if (only.has('logins')) {
    const c = ctx(plan.handshakeRuns);
    const sshd = c.servers.find((s) => s.name === 'openssh')!;
    const accounts = await passwordAccounts(c, {
      repo: o.repo,
      dataDir: join(o.layout.root, 'ferry-data'),
      ferryHome: o.layout.ferryHome,
      sshdHome: sshd.localDir,
    });
    if (accounts) {
      log(
        `password logins: ${plan.handshakeSessions} sequential and ${plan.loginParallel} at a time, ${plan.handshakeRuns} runs per server`,
      );
      out.push(...(await passwordLogins(c, accounts, plan.handshakeSessions, plan.loginParallel)));
    }
  }
  if (only.has('client')) {
    const c = ctx(plan.singleRuns);
    const sshd = c.servers.find((s) => s.name === 'openssh')!;
    log(`client: ${plan.singleBytes / MIB} MiB put and get to sshd, ${plan.singleRuns} runs per client`);
    const path = join(c.clientDir, 'client.bin');
    const source = { path, bytes: plan.singleBytes, sha256: await writeRandomFile(path, plan.singleBytes) };
    out.push(...(await ferryClient(c, o.repo, sshd, source)));
  }
  if (only.has('floor')) {
    log(
      `floor: ${plan.smallFiles} × ${plan.smallBytes} B against a zero-work server and sshd, an idle bare cluster, ${plan.smallRuns} runs`,
    );
    out.push(
      ...(await floorRows(ctx(plan.smallRuns), {
        repo: o.repo,
        layout: o.layout,
        files: plan.smallFiles,
        bytes: plan.smallBytes,
      })),
    );
  }
  return out;
}
