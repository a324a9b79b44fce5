// Every named logger is declared here; lines are JSON (pino) and carry session id, user and address as bindings.
import pino, { type Logger } from 'pino';
import { inWorkerThread, workerTaskId } from './util/worker-task-id.js';

export type { Logger } from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const fromEnv = process.env.FERRY_LOG_LEVEL;
// A bad FERRY_LOG_LEVEL is reported by the config check (one line, naming the variable); pino would throw here.
const level =
  fromEnv !== undefined && LEVELS.includes(fromEnv)
    ? fromEnv
    : process.env.NODE_ENV === 'test'
      ? 'silent'
      : 'info';

const stderr = pino.destination({ fd: 2, sync: true });

/** Where log lines also go besides stderr (the optional log file of `serve`); see `setLogFileSink`. */
let fileSink: { write(line: string): void } | undefined;

export function setLogFileSink(sink: { write(line: string): void } | undefined): void {
  fileSink = sink;
}

/** Root logger writing JSON lines to stderr so stdout stays free for command output (and to the log file, if any). */
export const rootLogger: Logger = pino(
  {
    level,
    // A worker thread of `serve --worker-mode threads` says which it is (its id in `top -H` and /api/status): its
    // lines share the process's pid.
    base: inWorkerThread ? { pid: process.pid, thread: workerTaskId } : { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', '*.password', 'secret', '*.secret'], censor: '[secret]' },
  },
  {
    write(line: string) {
      stderr.write(line);
      fileSink?.write(line);
    },
  },
);

export const loggers = {
  serve: rootLogger.child({ logger: 'serve' }),
  ssh: rootLogger.child({ logger: 'ssh' }),
  auth: rootLogger.child({ logger: 'auth' }),
  ldap: rootLogger.child({ logger: 'ldap' }),
  sftp: rootLogger.child({ logger: 'sftp' }),
  scp: rootLogger.child({ logger: 'scp' }),
  ftps: rootLogger.child({ logger: 'ftps' }),
  core: rootLogger.child({ logger: 'core' }),
  store: rootLogger.child({ logger: 'store' }),
  keys: rootLogger.child({ logger: 'keys' }),
  events: rootLogger.child({ logger: 'events' }),
  audit: rootLogger.child({ logger: 'audit' }),
  health: rootLogger.child({ logger: 'health' }),
  transfers: rootLogger.child({ logger: 'transfers' }),
  automation: rootLogger.child({ logger: 'automation' }),
  http: rootLogger.child({ logger: 'http' }),
} as const;
