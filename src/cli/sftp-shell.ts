// The `ferry sftp` shell: remote and local working directories, globs, recursive get/put; runs one command line.
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, posix, resolve } from 'node:path';
import { globToRegExp, hasGlob } from '../transfers/glob.js';
import { isDirectory, isRegularFile, type SftpClient } from '../transfers/sftp-client.js';
import { download, upload } from '../transfers/transfer.js';
import { LocalFs } from '../vfs/local/local-fs.js';
import {
  COMMANDS,
  need,
  ShellCommandError,
  type ShellIo,
  type ShellSession,
  splitArgs,
} from './sftp-shell-commands.js';

/** The shell's side is the user's own disk: local paths are absolute host paths, read and written through this Fs. */
const hostFs = new LocalFs();

export class SftpShell implements ShellSession {
  remoteCwd: string;
  localCwd: string;

  constructor(
    readonly sftp: SftpClient,
    readonly io: ShellIo,
    home: string,
    localCwd: string = process.cwd(),
  ) {
    this.remoteCwd = home;
    this.localCwd = localCwd;
  }

  remotePath(p: string): string {
    return posix.resolve(this.remoteCwd, p === '~' ? '.' : p);
  }

  localPath(p: string): string {
    if (p === '~' || p.startsWith('~/')) return join(homedir(), p.slice(1));
    return resolve(this.localCwd, p);
  }

  async expandRemote(arg: string): Promise<string[]> {
    const path = this.remotePath(arg);
    if (!hasGlob(basename(path))) return [path];
    const dir = posix.dirname(path);
    const pattern = posix.basename(path);
    const re = globToRegExp(pattern);
    const names = (await this.sftp.list(dir))
      .map((e) => e.filename)
      .filter((n) => re.test(n) && (pattern.startsWith('.') || !n.startsWith('.')))
      .sort();
    if (names.length === 0) throw new ShellCommandError(`${arg} not found`);
    return names.map((n) => posix.join(dir, n));
  }

  async expandLocal(arg: string): Promise<string[]> {
    const path = this.localPath(arg);
    if (!hasGlob(basename(path))) return [path];
    const dir = resolve(path, '..');
    const pattern = basename(path);
    const re = globToRegExp(pattern);
    const names = (await readdir(dir))
      .filter((n) => re.test(n) && (pattern.startsWith('.') || !n.startsWith('.')))
      .sort();
    if (names.length === 0) throw new ShellCommandError(`${arg} not found`);
    return names.map((n) => join(dir, n));
  }

  async execute(line: string): Promise<'quit' | undefined> {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return undefined;
    const [name, ...args] = splitArgs(trimmed);
    const command = COMMANDS.find((c) => c.names.includes(name!));
    if (!command) throw new ShellCommandError(`Invalid command: ${name}`);
    if (command.arity) need(args, command.arity[0], command.arity[1], command.usage);
    return command.run(this, args, new Set());
  }

  async get(remote: string, local: string, flags: Set<string>): Promise<void> {
    const attrs = await this.sftp.stat(remote);
    if (isDirectory(attrs)) {
      if (!flags.has('r')) throw new ShellCommandError(`${remote}: is a directory (use get -r)`);
      this.io.out(`Retrieving ${remote}\n`);
      await mkdir(local, { recursive: true });
      for (const e of await this.sftp.list(remote)) {
        if (isDirectory(e.attrs) || isRegularFile(e.attrs))
          await this.get(posix.join(remote, e.filename), join(local, e.filename), flags);
      }
      if (flags.has('p') && attrs.permissions !== undefined) await chmod(local, attrs.permissions & 0o7777);
      return;
    }
    if (!isRegularFile(attrs)) throw new ShellCommandError(`${remote}: not a regular file`);
    this.io.out(`Fetching ${remote} to ${local}\n`);
    this.io.progress.start(basename(remote), attrs.size ?? 0);
    try {
      await download(
        this.sftp,
        remote,
        { fs: hostFs, path: local },
        {
          useTempName: false,
          resume: flags.has('a'),
          preserve: flags.has('p'),
          // The shell shows no hash: the file is hashed only when the server can check it (check-file).
          digest: false,
          onProgress: (done, total) => this.io.progress.update(done, total),
        },
      );
    } finally {
      this.io.progress.stop();
    }
  }

  async put(local: string, remote: string, flags: Set<string>): Promise<void> {
    const s = await stat(local);
    if (s.isDirectory()) {
      if (!flags.has('r')) throw new ShellCommandError(`${local}: is a directory (use put -r)`);
      this.io.out(`Entering ${local}\n`);
      if (!(await this.sftp.tryStat(remote))) await this.sftp.mkdir(remote);
      for (const entry of await readdir(local, { withFileTypes: true })) {
        if (entry.isDirectory() || entry.isFile())
          await this.put(join(local, entry.name), posix.join(remote, entry.name), flags);
      }
      return;
    }
    if (!s.isFile()) throw new ShellCommandError(`${local}: not a regular file`);
    this.io.out(`Uploading ${local} to ${remote}\n`);
    this.io.progress.start(basename(local), s.size);
    try {
      await upload(this.sftp, { fs: hostFs, path: local }, remote, {
        useTempName: false,
        resume: flags.has('a'),
        preserve: flags.has('p'),
        digest: false,
        onProgress: (done, total) => this.io.progress.update(done, total),
      });
    } finally {
      this.io.progress.stop();
    }
  }
}
