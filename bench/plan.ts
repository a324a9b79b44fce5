// The benchmark's scenarios and sizes: the full plan (the figures in docs/PERFORMANCE.md) and the quick one.
import type { ApiPlan } from './api.js';

const MIB = 1024 * 1024;

export const SCENARIOS = [
  'startup',
  'single',
  'singlefloor',
  'concurrent',
  'handshakes',
  'idle',
  'listing',
  'rules',
  'storage',
  's3',
  'pgp',
  'pq',
  'api',
  'ftps',
  'web',
  'cluster',
  'smallfiles',
  'pauses',
  'sessions',
  'logins',
  'client',
  'floor',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Plan {
  readonly mode: 'full' | 'quick';
  /** `ferry --version`, `users list` and idle server runs (Ferry only). */
  readonly startupRuns: number;
  readonly singleBytes: number;
  readonly singleRuns: number;
  readonly streams: number;
  readonly streamBytes: number;
  readonly streamRuns: number;
  readonly handshakeSessions: number;
  readonly handshakeRuns: number;
  readonly idleSessions: number;
  readonly idleRuns: number;
  readonly listingFiles: number;
  readonly listingRuns: number;
  /** Rules: files of rulesBytes per session of each kind (firing, calm) and per whole-session run. */
  readonly rulesFiles: number;
  readonly rulesBytes: number;
  readonly rulesRuns: number;
  readonly api: ApiPlan;
  /** One session uploads then downloads this many files of smallBytes (`put -r`, `get -r`). */
  readonly smallFiles: number;
  readonly smallBytes: number;
  readonly smallRuns: number;
  /** Sessions after both servers were idle pauseSeconds, each uploading pauseFiles files of smallBytes. */
  readonly pauseFiles: number;
  readonly pauseSeconds: number;
  readonly pauseRuns: number;
  /** Untimed sessions per server before them: a fresh worker needs ~6000 files before its CPU per file settles. */
  readonly pauseWarmSessions: number;
  /** Many sessions at once, each uploading sessionFiles files of sessionBytes. */
  readonly sessions: number;
  readonly sessionFiles: number;
  readonly sessionBytes: number;
  readonly sessionRuns: number;
  /** Password logins per run, sequential and this many at a time. */
  readonly loginParallel: number;
  readonly ciphers: readonly string[];
}

export const FULL: Plan = {
  mode: 'full',
  startupRuns: 5,
  singleBytes: 1024 * MIB,
  singleRuns: 5,
  streams: 8,
  streamBytes: 256 * MIB,
  streamRuns: 3,
  handshakeSessions: 100,
  handshakeRuns: 3,
  idleSessions: 200,
  // One run on servers that have served nothing: a second one measures the garbage the first left behind.
  idleRuns: 1,
  listingFiles: 100_000,
  listingRuns: 3,
  rulesFiles: 100,
  rulesBytes: 4 * MIB,
  rulesRuns: 5,
  api: { users: 10_000, auditRecords: 1_000_000, requests: 200, files: 20, bytes: 16 * MIB, runs: 5 },
  smallFiles: 10_000,
  smallBytes: 4096,
  smallRuns: 5,
  pauseFiles: 1000,
  // Over the 5 s after which an idle worker gave back memory before stop 51, under the 60 s it waits now.
  pauseSeconds: 12,
  pauseRuns: 5,
  pauseWarmSessions: 16,
  sessions: 200,
  sessionFiles: 20,
  sessionBytes: MIB,
  sessionRuns: 5,
  loginParallel: 16,
  ciphers: ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'],
};

export const QUICK: Plan = {
  ...FULL,
  mode: 'quick',
  singleBytes: 64 * MIB,
  singleRuns: 2,
  streamBytes: 16 * MIB,
  streamRuns: 1,
  handshakeSessions: 20,
  handshakeRuns: 1,
  idleSessions: 50,
  idleRuns: 1,
  listingFiles: 10_000,
  listingRuns: 1,
  rulesFiles: 30,
  rulesBytes: 1 * MIB,
  rulesRuns: 2,
  api: { users: 2000, auditRecords: 100_000, requests: 50, files: 10, bytes: 4 * MIB, runs: 2 },
  smallFiles: 1000,
  smallRuns: 1,
  pauseFiles: 200,
  pauseRuns: 1,
  sessions: 50,
  sessionFiles: 5,
  sessionRuns: 1,
};

/** The plan of a run: the quick or the full one, with every row's run count replaced by `runs` when it is given. */
export function planOf(quick: boolean, runs: number | undefined): Plan {
  const base = quick ? QUICK : FULL;
  if (runs === undefined) return base;
  return {
    ...base,
    singleRuns: runs,
    streamRuns: runs,
    handshakeRuns: runs,
    listingRuns: runs,
    rulesRuns: runs,
    api: { ...base.api, runs },
    smallRuns: runs,
    pauseRuns: runs,
    sessionRuns: runs,
    startupRuns: runs,
  };
}

export const USAGE = `usage: npm run bench -- [--quick] [--only startup,single,singlefloor,concurrent,handshakes,idle,listing,rules,storage,s3,pgp,pq,api,ftps,web,cluster,
                                       smallfiles,pauses,sessions,logins,client,floor]
                        [--runs N] [--workers N] [--threads] [--cpu-prof DIR] [--out FILE]
  --quick       small sizes and one or two runs (under 2 minutes)
  --runs N      runs per server for every measurement but idle (default: full 5/3/3/3, quick 2/1/1/1;
                startup 5; small files, pauses and sessions 5, quick 1)
  --workers N   passed to 'ferry serve --workers N' when Ferry has that flag (default: number of cores)
  --threads     the Ferry column is 'ferry serve --worker-mode threads' (the workers as threads of one
                process, node flags as npm start); the rows that start servers of their own (storage, s3,
                pgp, cluster, ...) still start worker processes
  --cpu-prof D  run Ferry under 'node --cpu-prof' with Landlock off (it would refuse the profiles), profiles
                written to D, one per process, with the bench's log stamped on their clock in D/bench-log.tsv
                (summarise: bench/profile-summary.ts; --match 'rules on' --against 'rules off' --per 100: the
                difference per file between two kinds of run, by source file of the bundled build)
  --out FILE    JSON results (default bench/results/latest.json, quick: bench/results/latest-quick.json)`;
