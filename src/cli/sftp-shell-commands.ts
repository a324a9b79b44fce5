// The commands of `ferry sftp`, as OpenSSH's sftp names and prints them: one table row per command.
import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { FerryError } from '../errors.js';
import { hasGlob } from '../transfers/glob.js';
import { isDirectory, type SftpAttrs, type SftpClient } from '../transfers/sftp-client.js';
import { formatBytes } from '../transfers/timing.js';
import type { ProgressReporter } from './progress.js';

export class ShellCommandError extends FerryError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

export interface ShellIo {
  out(text: string): void;
  progress: ProgressReporter;
  /** Terminal width for `ls` columns. */
  columns: number;
}

/** What a command sees of the shell (SftpShell, in sftp-shell.ts): its client, terminal, directories and transfers. */
export interface ShellSession {
  readonly sftp: SftpClient;
  readonly io: ShellIo;
  remoteCwd: string;
  localCwd: string;
  remotePath(p: string): string;
  localPath(p: string): string;
  /** Remote paths a (possibly glob) argument names; a glob matching nothing is an error, as in sftp. */
  expandRemote(arg: string): Promise<string[]>;
  expandLocal(arg: string): Promise<string[]>;
  get(remote: string, local: string, flags: Set<string>): Promise<void>;
  put(local: string, remote: string, flags: Set<string>): Promise<void>;
}

export interface Command {
  readonly names: readonly string[];
  readonly usage: string;
  readonly help: string;
  /** Fewest and most arguments, for commands without flags: checked against `usage` before `run`. */
  readonly arity?: readonly [min: number, max: number];
  run(shell: ShellSession, args: string[], flags: Set<string>): Promise<'quit' | undefined>;
}

/** Splits a command line as sftp does: whitespace separates, quotes group, backslash escapes. */
export function splitArgs(line: string): string[] {
  const args: string[] = [];
  let current = '';
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) current += line[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      current += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || current) args.push(current);
      current = '';
      has = false;
    } else current += c;
  }
  if (quote) throw new ShellCommandError('unterminated quote');
  if (has || current) args.push(current);
  return args;
}

/** Leading `-xyz` arguments become flags; `--` ends them. */
function takeFlags(args: string[], allowed: string): { flags: Set<string>; rest: string[] } {
  const flags = new Set<string>();
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (const f of a.slice(1)) {
      if (!allowed.includes(f)) throw new ShellCommandError(`unknown option -${f}`);
      flags.add(f);
    }
  }
  return { flags, rest: args.slice(i) };
}

export const need = (args: string[], min: number, max: number, usage: string) => {
  if (args.length < min || args.length > max) throw new ShellCommandError(`usage: ${usage}`);
};

function modeString(mode: number, dir: boolean): string {
  const chars = 'rwxrwxrwx';
  let out = dir ? 'd' : '-';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? chars[i] : '-';
  return out;
}

async function isRemoteDir(shell: ShellSession, path: string): Promise<boolean> {
  const attrs = await shell.sftp.tryStat(path);
  return attrs !== undefined && isDirectory(attrs);
}

async function isLocalDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

function columns(names: string[], width: number): string {
  if (names.length === 0) return '';
  const col = Math.max(...names.map((n) => n.length)) + 2;
  const perLine = Math.max(1, Math.floor(width / col));
  let out = '';
  names.forEach((n, i) => {
    out += (i + 1) % perLine === 0 || i === names.length - 1 ? `${n}\n` : n.padEnd(col);
  });
  return out;
}

async function getCommand(shell: ShellSession, argv: string[], resumeAll: boolean): Promise<undefined> {
  const { flags, rest } = takeFlags(argv, 'afpPrR');
  if (resumeAll) flags.add('a');
  if (flags.has('R')) flags.add('r');
  if (flags.has('P')) flags.add('p');
  need(rest, 1, 2, `${resumeAll ? 'reget' : 'get'} [-afpr] remote [local]`);
  const sources = await shell.expandRemote(rest[0]!);
  const target = rest[1] === undefined ? shell.localCwd : shell.localPath(rest[1]);
  const intoDir = rest[1] === undefined || sources.length > 1 || (await isLocalDir(target));
  if (sources.length > 1 && !(await isLocalDir(target)))
    throw new ShellCommandError(`Multiple sources: ${target} must be a directory`);
  for (const source of sources)
    await shell.get(source, intoDir ? join(target, posix.basename(source)) : target, flags);
  return undefined;
}

async function putCommand(shell: ShellSession, argv: string[], resumeAll: boolean): Promise<undefined> {
  const { flags, rest } = takeFlags(argv, 'afpPrR');
  if (resumeAll) flags.add('a');
  if (flags.has('R')) flags.add('r');
  if (flags.has('P')) flags.add('p');
  need(rest, 1, 2, `${resumeAll ? 'reput' : 'put'} [-afpr] local [remote]`);
  const sources = await shell.expandLocal(rest[0]!);
  const target = rest[1] === undefined ? shell.remoteCwd : shell.remotePath(rest[1]);
  const intoDir = rest[1] === undefined || sources.length > 1 || (await isRemoteDir(shell, target));
  if (sources.length > 1 && !(await isRemoteDir(shell, target)))
    throw new ShellCommandError(`Multiple sources: ${target} must be a directory`);
  for (const source of sources)
    await shell.put(source, intoDir ? posix.join(target, basename(source)) : target, flags);
  return undefined;
}

function longLocal(name: string, s: Awaited<ReturnType<typeof stat>>): string {
  const when = new Date(Number(s.mtimeMs)).toISOString().slice(0, 16).replace('T', ' ');
  return `${modeString(Number(s.mode), s.isDirectory())} ${String(s.size).padStart(10)} ${when} ${name}`;
}

export const COMMANDS: readonly Command[] = [
  {
    names: ['bye', 'quit', 'exit'],
    usage: 'bye',
    help: 'Quit sftp',
    run: async () => 'quit',
  },
  {
    names: ['help', '?'],
    usage: 'help',
    help: 'Display this help text',
    run: async (shell) => {
      shell.io.out('Available commands:\n');
      for (const c of COMMANDS) shell.io.out(`${c.usage.padEnd(38)}${c.help}\n`);
      return undefined;
    },
  },
  {
    names: ['pwd'],
    usage: 'pwd',
    help: 'Display remote working directory',
    run: async (shell) => {
      shell.io.out(`Remote working directory: ${shell.remoteCwd}\n`);
      return undefined;
    },
  },
  {
    names: ['lpwd'],
    usage: 'lpwd',
    help: 'Print local working directory',
    run: async (shell) => {
      shell.io.out(`Local working directory: ${shell.localCwd}\n`);
      return undefined;
    },
  },
  {
    names: ['cd'],
    usage: 'cd [path]',
    help: 'Change remote directory to "path"',
    arity: [0, 1],
    run: async (shell, args) => {
      const target = await shell.sftp.realpath(shell.remotePath(args[0] ?? '~'));
      if (!isDirectory(await shell.sftp.stat(target)))
        throw new ShellCommandError(`Can't change directory: "${target}" is not a directory`);
      shell.remoteCwd = target;
      return undefined;
    },
  },
  {
    names: ['lcd'],
    usage: 'lcd [path]',
    help: 'Change local directory to "path"',
    arity: [0, 1],
    run: async (shell, args) => {
      const target = shell.localPath(args[0] ?? '~');
      if (!(await isLocalDir(target)))
        throw new ShellCommandError(`Couldn't change local directory to "${target}"`);
      shell.localCwd = target;
      return undefined;
    },
  },
  {
    names: ['ls', 'dir'],
    usage: 'ls [-la] [path]',
    help: 'Display remote directory listing',
    run: async (shell, argv) => {
      const { flags, rest } = takeFlags(argv, 'la1');
      need(rest, 0, 1, 'ls [-la] [path]');
      const arg = rest[0] ?? '.';
      const path = shell.remotePath(arg);
      let entries: { filename: string; longname: string; attrs: SftpAttrs }[];
      if (hasGlob(posix.basename(path))) {
        const paths = await shell.expandRemote(arg);
        entries = await Promise.all(
          paths.map(async (p) => ({
            filename: posix.basename(p),
            longname: '',
            attrs: await shell.sftp.lstat(p),
          })),
        );
      } else if (isDirectory(await shell.sftp.stat(path))) {
        entries = await shell.sftp.list(path);
      } else {
        entries = [{ filename: posix.basename(path), longname: '', attrs: await shell.sftp.lstat(path) }];
      }
      entries = entries
        .filter((e) => flags.has('a') || !e.filename.startsWith('.'))
        .sort((a, b) => a.filename.localeCompare(b.filename));
      if (flags.has('l')) {
        for (const e of entries) {
          const when = new Date((e.attrs.mtime ?? 0) * 1000).toISOString().slice(0, 16).replace('T', ' ');
          shell.io.out(
            `${e.longname || `${modeString(e.attrs.permissions ?? 0, isDirectory(e.attrs))} ${String(e.attrs.size ?? 0).padStart(10)} ${when} ${e.filename}`}\n`,
          );
        }
      } else if (flags.has('1')) shell.io.out(entries.map((e) => `${e.filename}\n`).join(''));
      else
        shell.io.out(
          columns(
            entries.map((e) => e.filename),
            shell.io.columns,
          ),
        );
      return undefined;
    },
  },
  {
    names: ['lls'],
    usage: 'lls [-la] [path]',
    help: 'Display local directory listing',
    run: async (shell, argv) => {
      const { flags, rest } = takeFlags(argv, 'la1');
      need(rest, 0, 1, 'lls [-la] [path]');
      const path = shell.localPath(rest[0] ?? '.');
      const names = (await readdir(path)).filter((n) => flags.has('a') || !n.startsWith('.')).sort();
      if (flags.has('l')) {
        for (const n of names) shell.io.out(`${longLocal(n, await stat(join(path, n)))}\n`);
      } else
        shell.io.out(flags.has('1') ? names.map((n) => `${n}\n`).join('') : columns(names, shell.io.columns));
      return undefined;
    },
  },
  {
    names: ['get'],
    usage: 'get [-afpr] remote [local]',
    help: 'Download file (globs; -r directories, -p keep times/modes, -a resume)',
    run: (shell, args) => getCommand(shell, args, false),
  },
  {
    names: ['reget'],
    usage: 'reget [-fpr] remote [local]',
    help: 'Resume download of file',
    run: (shell, args) => getCommand(shell, args, true),
  },
  {
    names: ['put'],
    usage: 'put [-afpr] local [remote]',
    help: 'Upload file (globs; -r directories, -p keep times/modes, -a resume)',
    run: (shell, args) => putCommand(shell, args, false),
  },
  {
    names: ['reput'],
    usage: 'reput [-fpr] local [remote]',
    help: 'Resume upload of file',
    run: (shell, args) => putCommand(shell, args, true),
  },
  {
    names: ['rename'],
    usage: 'rename oldpath newpath',
    help: 'Rename remote file',
    arity: [2, 2],
    run: async (shell, args) => {
      await shell.sftp.rename(shell.remotePath(args[0]!), shell.remotePath(args[1]!));
      return undefined;
    },
  },
  {
    names: ['rm'],
    usage: 'rm path',
    help: 'Delete remote file',
    arity: [1, 1],
    run: async (shell, args) => {
      for (const path of await shell.expandRemote(args[0]!)) {
        shell.io.out(`Removing ${path}\n`);
        await shell.sftp.remove(path);
      }
      return undefined;
    },
  },
  {
    names: ['mkdir'],
    usage: 'mkdir path',
    help: 'Create remote directory',
    arity: [1, 1],
    run: async (shell, args) => {
      await shell.sftp.mkdir(shell.remotePath(args[0]!));
      return undefined;
    },
  },
  {
    names: ['lmkdir'],
    usage: 'lmkdir path',
    help: 'Create local directory',
    arity: [1, 1],
    run: async (shell, args) => {
      await mkdir(shell.localPath(args[0]!));
      return undefined;
    },
  },
  {
    names: ['rmdir'],
    usage: 'rmdir path',
    help: 'Remove remote directory',
    arity: [1, 1],
    run: async (shell, args) => {
      await shell.sftp.rmdir(shell.remotePath(args[0]!));
      return undefined;
    },
  },
  {
    names: ['chmod'],
    usage: 'chmod mode path',
    help: 'Change permissions of file to octal "mode"',
    arity: [2, 2],
    run: async (shell, args) => {
      if (!/^[0-7]{1,4}$/.test(args[0]!)) throw new ShellCommandError('Invalid mode: use octal, e.g. 644');
      for (const path of await shell.expandRemote(args[1]!)) {
        shell.io.out(`Changing mode on ${path}\n`);
        await shell.sftp.setstat(path, { permissions: Number.parseInt(args[0]!, 8) });
      }
      return undefined;
    },
  },
  {
    names: ['df'],
    usage: 'df [-h] [path]',
    help: 'Display statistics for current directory or filesystem containing "path"',
    run: async (shell, argv) => {
      const { flags, rest } = takeFlags(argv, 'hi');
      need(rest, 0, 1, 'df [-h] [path]');
      const v = await shell.sftp.statvfs(shell.remotePath(rest[0] ?? '.'));
      const unit = v.frsize || v.bsize;
      const size = v.blocks * unit;
      const used = (v.blocks - v.bfree) * unit;
      const avail = v.bavail * unit;
      const root = (v.bfree - v.bavail) * unit;
      const pct = size > 0 ? Math.round((used * 100) / size) : 0;
      const f = (n: number) => (flags.has('h') ? formatBytes(n) : String(Math.round(n / 1024)));
      shell.io.out(
        `${flags.has('h') ? '    Size     Used    Avail   (root)' : '        Size         Used        Avail       (root)'}    %Capacity\n`,
      );
      const w = flags.has('h') ? 8 : 12;
      shell.io.out(
        `${f(size).padStart(w)} ${f(used).padStart(w)} ${f(avail).padStart(w)} ${f(root).padStart(w)} ${`${pct}%`.padStart(12)}\n`,
      );
      return undefined;
    },
  },
];
