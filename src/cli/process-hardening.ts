// Defence in depth for the processes that serve sessions: kernel confinement mode, dropping root, homes made before
// Landlock, Landlock; `hardenServingProcess` applies them in that order once a server has started.
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
} from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FerryConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { loggers } from '../logger.js';
import type { RunningFerry } from '../server.js';
import { confine } from '../vfs/local/confine.js';
import { watchLandlockCoverage } from './landlock-coverage.js';

/** The repository (code, node_modules, the native addon): read-only for a restricted process. */
const CODE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Chooses how session paths are confined, before anything is served. Without openat2 (Linux < 5.6) the
 * only safe mode forbids symlinks entirely, and it must be chosen explicitly: never a silent downgrade.
 */
export function chooseConfinement(config: FerryConfig): string {
  if (config.confinement === 'no-symlinks') {
    confine.setDegraded(true);
    return 'confinement: no-symlinks (every symlink refused; chosen by configuration)';
  }
  if (!confine.hasOpenat2()) {
    throw new ConfigError(
      'this kernel has no openat2() (Linux < 5.6), which Ferry needs to confine sessions to their homes; ' +
        "set confinement to 'no-symlinks' (FERRY_CONFINEMENT=no-symlinks) to run with symlinks forbidden",
    );
  }
  return 'confinement: kernel (openat2 RESOLVE_IN_ROOT in every home)';
}

/**
 * Gives the data dir's top level to `uid`:`gid` where root owns it (a first start as root created it), so
 * the unprivileged process can still open the store. Homes below keep their owners: an installation moved
 * from root to a service user is `chown -R`'d once by the administrator.
 */
function handOver(dataDir: string, uid: number, gid: number): void {
  const own = (path: string) => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st && st.uid === 0 && !st.isSymbolicLink()) chownSync(path, uid, gid);
  };
  own(dataDir);
  for (const name of readdirSync(dataDir)) own(join(dataDir, name));
}

/** Drops root for good after the ports are bound: groups, then gid, then uid (the reverse cannot work). */
export function dropPrivileges(config: FerryConfig): string {
  const isRoot = process.getuid?.() === 0;
  if (config.user === undefined) {
    return isRoot
      ? 'privileges: WARNING running as root; use --user NAME to drop root after binding the ports'
      : `privileges: running as uid ${process.getuid?.()}`;
  }
  const { uid, gid } = lookupUser(config.user);
  // A worker restarted by a primary that already dropped root starts as the user: nothing left to drop.
  if (process.getuid?.() === uid && process.geteuid?.() === uid)
    return `privileges: running as ${config.user}`;
  if (!isRoot) {
    throw new ConfigError(
      `--user ${config.user} needs Ferry to be started as root (it is uid ${process.getuid?.()})`,
    );
  }
  handOver(config.dataDir, uid, gid);
  // POSIX-only calls; Ferry serves on Linux, where they exist.
  (process as { initgroups?: (user: string, group: number) => void }).initgroups?.(config.user, gid);
  process.setgid?.(gid);
  process.setuid?.(uid);
  if (process.getuid?.() === 0 || process.geteuid?.() === 0) throw new ConfigError('could not drop root');
  return `privileges: dropped root, running as ${config.user} (uid ${uid}, gid ${gid})`;
}

/** uid and primary gid of a user from /etc/passwd (Node has no getpwnam; setuid(name) alone loses the gid). */
function lookupUser(user: string): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === user && fields.length >= 4) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new ConfigError(`--user ${user}: no such user in /etc/passwd`);
}

/** A directory a session or a job would make at its first use, and what its absence costs. */
export interface MissingDir {
  readonly path: string;
  /** "home /srv/x", "local directory /srv/in of job pull-in". */
  readonly what: string;
  /** What goes wrong while it is missing. */
  readonly until: string;
}

/**
 * Makes the homes, virtual folders' directories and pull jobs' local directories outside the data dir that do
 * not exist yet, 0700, as a first login, use or run would, before Landlock: Landlock can only allow a directory
 * that exists, so one made later would be refused (a user's first login saw "Permission denied" and the server
 * said nothing). Runs after privileges are dropped, so each is owned by whoever would have made it. Returns a
 * line for each it could not make.
 */
export function makeMissingDirs(config: FerryConfig, dirs: readonly MissingDir[]): string[] {
  if (!config.landlock) return [];
  const dataDir = resolve(config.dataDir);
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    if (seen.has(dir.path) || !isAbsolute(dir.path) || dir.path.startsWith(`${dataDir}/`)) continue;
    seen.add(dir.path);
    if (exists(dir.path)) continue;
    try {
      mkdirSync(dir.path, { recursive: true, mode: 0o700 });
    } catch (err) {
      const { code, message } = err as NodeJS.ErrnoException;
      lines.push(`landlock: ${dir.what} could not be made (${code ?? message}): ${dir.until}`);
    }
  }
  return lines;
}

/** What Landlock was set to: the start-up line, and the directories outside the code that got a read-write rule. */
export interface LandlockResult {
  readonly line: string;
  /** Empty when Landlock is off or this kernel lacks it: then nothing is out of reach. */
  readonly writable: readonly string[];
}

/**
 * Restricts this process's file-system access with Landlock (Linux 5.13+): read-write only to the data dir
 * and the homes of users who live outside it, read-only to the code and the system libraries it loads.
 * A bug in Ferry that escaped the per-home confinement would still find nothing else on the machine.
 */
export function applyLandlock(config: FerryConfig, extraHomes: readonly string[]): LandlockResult {
  if (!config.landlock) return { line: 'landlock: off (by configuration)', writable: [] };
  const dataDir = resolve(config.dataDir);
  const rw = [dataDir, ...outsideDataDir(config, extraHomes)];
  // The log file is rotated by renaming within its directory, so that directory must stay writable too.
  if (config.logFile && !resolve(config.logFile).startsWith(`${dataDir}/`))
    rw.push(dirname(resolve(config.logFile)));
  // Name resolution (webhook and SMTP hosts, partners by name) reads the resolver's files.
  const resolver = [
    '/etc/resolv.conf',
    '/etc/hosts',
    '/etc/nsswitch.conf',
    '/etc/host.conf',
    '/etc/gai.conf',
  ];
  // node_modules may be a symlink (a workspace, a shared install): Landlock follows the real path, and modules
  // loaded on first use (otplib at the first one-time code) are read after the ruleset is in force.
  const modules = join(CODE_ROOT, 'node_modules');
  const realModules = existsSync(modules) ? realpathSync(modules) : modules;
  const ro = [
    CODE_ROOT,
    ...(realModules.startsWith(`${CODE_ROOT}/`) ? [] : [realModules]),
    '/lib',
    '/lib64',
    '/etc/ssl',
    '/etc/localtime',
    '/proc',
    '/dev/urandom',
    ...resolver,
  ];
  // Command rules (config rules.commands) run programs: the system's program directories may be executed then,
  // and only then. The commands inherit this process's Landlock domain.
  const programs = config.rules.commands ? ['/usr', '/bin', '/sbin', '/opt'] : [];
  // Paths this machine lacks (no /lib64, a job dir not made yet) get no rule, and the line names only those that do.
  const writable = [...new Set(rw)].filter(exists);
  const rules = [
    ...[...writable, '/dev/null'].map((path) => ({ path, access: 'rw' as const })),
    ...ro.map((path) => ({ path, access: 'ro' as const })),
    ...(config.rules.commands ? [] : [{ path: '/usr', access: 'ro' as const }]),
    ...programs.map((path) => ({ path, access: 'rx' as const })),
  ];
  const abi = confine.landlock(rules.filter((r) => writable.includes(r.path) || exists(r.path)));
  if (abi === 0)
    return {
      line: 'landlock: not available on this kernel (needs Linux 5.13+ with Landlock enabled)',
      writable: [],
    };
  return { line: `landlock: active (ABI ${abi}; read-write: ${writable.join(', ')})`, writable };
}

/** False for a path that is missing or cannot be looked at (a file where a folder should be, no access). */
function exists(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** The absolute paths of `paths` that are not inside the data dir (which has its own rule), each once. */
function outsideDataDir(config: FerryConfig, paths: readonly string[]): string[] {
  const dataDir = resolve(config.dataDir);
  return [...new Set(paths.filter((p) => isAbsolute(p) && p !== dataDir && !p.startsWith(`${dataDir}/`)))];
}

/** The directories a serving process works in, as the store has them now. */
export interface ServedDirs {
  /** Those that need a read-write rule: homes, a SQLite store's own directory, jobs' and folders' directories. */
  readonly paths: readonly string[];
  /** Those made before Landlock when missing, as a first login, use or run would make them. */
  readonly made: readonly MissingDir[];
}

export async function servedDirs(running: RunningFerry): Promise<ServedDirs> {
  const homes = (await running.context.effectiveUsers()).flatMap((u) => (u.homeDir ? [u.homeDir] : []));
  // A SQLite store outside the data dir (store.url) needs its directory writable too (WAL, shm, journal files).
  const store = running.config.store;
  const dataDir = running.config.dataDir;
  const storeDir =
    store.driver === 'sqlite' && dirname(store.path) !== dataDir && !store.path.startsWith(`${dataDir}/`)
      ? [dirname(store.path)]
      : [];
  // Scheduled jobs run in these processes and read and write their local directories.
  const jobs = await running.context.store.transferJobs.list();
  const jobDirs = jobs.map((j) => j.localDir);
  // Virtual folders are directories of their own, wherever the administrator put them.
  const folders = await running.context.store.folders.list();
  const folderDirs = folders.map((f) => f.path);
  // Directory accounts provisioned after the start get homes under ldap.homeTemplate's fixed leading part.
  const template = running.config.ldap.homeTemplate;
  const ldapHomes = template ? [dirname(template.slice(0, template.indexOf('%username%')) + 'x')] : [];
  // Homes are directories only on local storage: on S3 they are key prefixes, nothing to allow or make here (and
  // a user added with one must not make the workers be replaced for nothing).
  const localHomes = running.config.storage.backend === 'local' ? [...homes, ...ldapHomes] : [];
  const login = 'its user cannot log in until it exists and the server restarts';
  return {
    paths: outsideDataDir(running.config, [...localHomes, ...storeDir, ...jobDirs, ...folderDirs]),
    made: [
      ...localHomes.map((path) => ({
        path,
        what: `home ${path}`,
        until: login,
      })),
      // A folder's directory is made at its first use, like a home.
      ...folders.map((f) => ({
        path: f.path,
        what: `directory ${f.path} of folder ${f.name}`,
        until: 'sessions cannot use the folder until it exists and the server restarts',
      })),
      // A pull job makes its local directory at its first run; a push job's must hold the files it sends.
      ...jobs
        .filter((j) => j.direction === 'pull')
        .map((j) => ({
          path: j.localDir,
          what: `local directory ${j.localDir} of job ${j.name}`,
          until: 'its scheduled runs fail until it exists and the server restarts',
        })),
    ],
  };
}

/** How a serving process was hardened: its start-up lines, and what it can reach (landlock-coverage.ts). */
export interface Hardening {
  readonly lines: readonly string[];
  /** The read-write rules Landlock got; empty when Landlock is not in force. */
  readonly writable: readonly string[];
  /** Every directory this process was started for, those it could not make included. */
  readonly served: readonly string[];
}

/**
 * After the ports are bound and the store is open: drop root, make missing homes, then Landlock (which cannot be
 * undone, so it comes last).
 */
export async function hardenServingProcess(running: RunningFerry): Promise<Hardening> {
  const dirs = await servedDirs(running);
  const lines = [dropPrivileges(running.config)];
  const unmade = makeMissingDirs(running.config, dirs.made);
  const landlock = applyLandlock(running.config, dirs.paths);
  return { lines: [...lines, landlock.line, ...unmade], writable: landlock.writable, served: dirs.paths };
}

/** How often a serving process looks for directories added out of its reach (tests shorten it). */
function coveragePollMs(): number {
  const value = Number(process.env.FERRY_LANDLOCK_POLL_MS);
  return Number.isInteger(value) && value > 0 ? value : 10_000;
}

/**
 * Watches, until the server stops, for directories the store names that this process's Landlock rules do not
 * reach (landlock-coverage.ts); nothing when Landlock is not in force.
 */
export function watchHardeningCoverage(
  running: RunningFerry,
  hardening: Hardening,
  onUnreachable: (paths: readonly string[]) => void,
): void {
  const stop = watchLandlockCoverage({
    audit: running.context.store.audit,
    served: async () => (await servedDirs(running)).paths,
    writable: hardening.writable,
    startedFor: hardening.served,
    intervalMs: coveragePollMs(),
    onUnreachable,
    onError: (err) => loggers.serve.warn({ err }, 'landlock: could not check for new directories'),
  });
  running.signal.addEventListener('abort', stop, { once: true });
}
