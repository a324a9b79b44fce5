// `ferry sftp user@host`: an interactive SFTP client familiar to OpenSSH sftp users, with batch mode and known_hosts.
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { exportPrivateKey, KeyParseError, parsePrivateKey } from '../keys/private-keys.js';
import { keyTypeLabel } from '../keys/ssh-keys.js';
import {
  connectSftp,
  HostKeyRejectedError,
  NoCommonAlgorithmError,
  type PresentedHostKey,
} from '../transfers/connection.js';
import { addKnownHost, checkHostKey, hostKeyName, readKnownHosts } from '../transfers/known-hosts.js';
import { Secret } from '../util/secret.js';
import { algorithmsOption, CLIENT_ALGORITHMS_HELP, CliError } from './common.js';
import { commandDescription } from './descriptions.js';
import { readPrivateKeyFile } from './keys-common.js';
import { progressBar } from './progress.js';
import { SftpShell } from './sftp-shell.js';
import { confirm, readLine, readPassword } from './terminal.js';

interface SftpFlags {
  port?: string;
  identity?: string;
  batch?: string;
  option: string[];
  quiet?: boolean;
  algorithms?: string;
}

export interface Destination {
  readonly user: string;
  readonly host: string;
  readonly port?: number;
  readonly path?: string;
}

/** `[user@]host[:path]`, `[user@][v6addr][:path]` or `sftp://[user@]host[:port][/path]`. */
export function parseDestination(text: string): Destination {
  const url = /^sftp:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)?$/.exec(text);
  if (url) {
    return {
      user: url[1] ? decodeURIComponent(url[1]) : userInfo().username,
      host: url[2]!.replace(/^\[|\]$/g, ''),
      ...(url[3] ? { port: Number(url[3]) } : {}),
      ...(url[4] && url[4] !== '/' ? { path: url[4].slice(1) || '/' } : {}),
    };
  }
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : userInfo().username;
  const rest = at >= 0 ? text.slice(at + 1) : text;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(.*))?$/.exec(rest);
  if (!m || !user) throw new CliError(`invalid destination '${text}' (use user@host[:path])`, 2);
  return { user, host: m[1]!.replace(/^\[|\]$/g, ''), ...(m[2] ? { path: m[2] } : {}) };
}

/** `-o Name=value` / `-o "Name value"` options we honour, keyed in lower case. */
function sshOptions(list: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const item of list) {
    const m = /^\s*([A-Za-z]+)\s*(?:=|\s)\s*(.*)$/.exec(item);
    if (!m) throw new CliError(`invalid -o option '${item}'`, 2);
    // ssh keeps the first value given for an option.
    if (!map.has(m[1]!.toLowerCase())) map.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return map;
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

async function loadIdentity(file: string): Promise<Secret<string>> {
  const data = readPrivateKeyFile(expandHome(file));
  try {
    return new Secret(exportPrivateKey(parsePrivateKey(data), 'openssh'));
  } catch (err) {
    if (!(err instanceof KeyParseError) || err.reason !== 'passphrase-required') throw err;
    if (!process.stdin.isTTY)
      throw new CliError(`${file} is encrypted and there is no terminal to ask for its passphrase`);
    const passphrase = await readPassword(`Enter passphrase for key '${file}': `);
    return new Secret(exportPrivateKey(parsePrivateKey(data, passphrase), 'openssh'));
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Decides on the host key against known_hosts as ssh does (StrictHostKeyChecking ask|yes|accept-new|no). */
function hostKeyPolicy(
  host: string,
  port: number,
  knownHostsFile: string,
  strict: string,
  interactive: boolean,
) {
  return async (key: PresentedHostKey): Promise<boolean> => {
    const name = hostKeyName(host, port);
    const verdict = checkHostKey(await readKnownHosts(knownHostsFile), host, port, key.algorithm, key.blob);
    const label = keyTypeLabel(key.algorithm).toUpperCase();
    if (verdict.status === 'known') return true;
    if (verdict.status === 'revoked') {
      process.stderr.write(
        `Host key ${key.sha256} for ${name} is marked as revoked (${knownHostsFile}:${verdict.entry.line}).\nHost key verification failed.\n`,
      );
      return false;
    }
    if (verdict.status === 'changed') {
      process.stderr.write(
        [
          '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
          '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
          '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
          'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
          `The fingerprint for the ${label} key sent by the remote host is`,
          key.sha256,
          `Offending ${label} key in ${knownHostsFile}:${verdict.entry.line}`,
          `Host key for ${name} has changed and you have requested strict checking.`,
          'Host key verification failed.',
          '',
        ].join('\n'),
      );
      return false;
    }
    const mode = strict.toLowerCase();
    if (mode === 'yes') {
      process.stderr.write(
        `No ${label} host key is known for ${name} and you have requested strict checking.\nHost key verification failed.\n`,
      );
      return false;
    }
    if (mode !== 'no' && mode !== 'accept-new' && mode !== 'off') {
      if (!interactive) {
        process.stderr.write(
          `The authenticity of host '${name}' can't be established (no terminal to ask).\nHost key verification failed.\n`,
        );
        return false;
      }
      process.stderr.write(
        `The authenticity of host '${name}' can't be established.\n${label} key fingerprint is ${key.sha256}.\nThis key is not known by any other names.\n`,
      );
      if (
        !(await confirm('Are you sure you want to continue connecting (yes/no/[fingerprint])? ', key.sha256))
      ) {
        process.stderr.write('Host key verification failed.\n');
        return false;
      }
    }
    await addKnownHost(knownHostsFile, host, port, key.algorithm, key.blob);
    process.stderr.write(`Warning: Permanently added '${name}' (${label}) to the list of known hosts.\n`);
    return true;
  };
}

async function* batchLines(file: string): AsyncGenerator<string> {
  const input = file === '-' ? process.stdin : undefined;
  if (input) {
    for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) yield line;
    return;
  }
  yield* readFileSync(file, 'utf8').split(/\r?\n/);
}

export function registerSftpCommand(program: Command): void {
  program
    .command('sftp')
    .description(commandDescription('sftp'))
    .argument('<destination>', 'user@host[:path] or sftp://user@host[:port][/path]')
    .option('-P, --port <port>', 'port to connect to (default 22)')
    .option('-i, --identity <file>', 'private key file (OpenSSH, PEM, PuTTY .ppk)')
    .option(
      '-b, --batch <file>',
      "read commands from a file ('-' for stdin); stop at the first failure unless a line starts with '-'",
    )
    .option(
      '-o, --option <opt>',
      'ssh option: UserKnownHostsFile=, StrictHostKeyChecking=, Port=, User=, IdentityFile=',
      collect,
      [],
    )
    .option('-q, --quiet', 'no progress bars')
    .option('--algorithms <profile>', CLIENT_ALGORITHMS_HELP)
    .addHelpText(
      'after',
      `
Login: a public key (-i) and/or a password. The password comes from the SSHPASS environment variable when set
(for scripts, as sshpass -e does), else it is asked for on the terminal without echo. Servers that require
both (publickey,password) get both. Other keyboard-interactive prompts (a one-time code) are shown and answered
on the terminal, as OpenSSH does; they are never answered with the password.
Host keys are checked against ~/.ssh/known_hosts (OpenSSH format, hashed entries understood); an unknown key is
shown with its SHA256 fingerprint and added only when you answer yes.
Algorithms are Ferry's server policy (post-quantum key exchange first; never SHA-1, CBC or DSA); a server with
nothing in common is refused in one line naming what it offers. --algorithms compat adds NIST ECDH and ECDSA host
keys, for servers that have nothing else.`,
    )
    .action(async (destination: string, o: SftpFlags) => {
      const algorithms = algorithmsOption(o.algorithms);
      const dest = parseDestination(destination);
      const opts = sshOptions(o.option);
      const portText = o.port ?? opts.get('port');
      const port = portText === undefined ? (dest.port ?? 22) : Number(portText);
      if (!Number.isInteger(port) || port < 1 || port > 65_535)
        throw new CliError(`bad port '${portText}'`, 2);
      const user = opts.get('user') && !destination.includes('@') ? opts.get('user')! : dest.user;
      const identity = o.identity ?? opts.get('identityfile');
      const knownHosts = expandHome(opts.get('userknownhostsfile') ?? join(homedir(), '.ssh', 'known_hosts'));
      const batch = o.batch !== undefined;
      const interactive = process.stdin.isTTY === true && (!batch || o.batch !== '-');
      const passwordFromEnv = process.env.SSHPASS;
      const canAskPassword = process.stdin.isTTY === true;
      const conn = await connectSftp({
        host: dest.host,
        port,
        username: user,
        privateKey: identity ? await loadIdentity(identity) : undefined,
        password:
          passwordFromEnv !== undefined
            ? new Secret(passwordFromEnv)
            : canAskPassword && opts.get('passwordauthentication') !== 'no'
              ? () => readPassword(`${user}@${dest.host}'s password: `)
              : undefined,
        answerPrompts: canAskPassword
          ? async (prompts, instructions) => {
              if (instructions) process.stderr.write(`${instructions}\n`);
              const answers: string[] = [];
              for (const p of prompts) answers.push(await readLine(p.prompt, { echo: p.echo }));
              return answers;
            }
          : undefined,
        hostKey: hostKeyPolicy(
          dest.host,
          port,
          knownHosts,
          opts.get('stricthostkeychecking') ?? 'ask',
          interactive,
        ),
        readyTimeoutMs: 300_000,
        algorithms,
        compatHint: 'add --algorithms compat',
      }).catch((err: unknown) => {
        // Already one line naming the server and what would do.
        if (err instanceof NoCommonAlgorithmError) throw new CliError(err.message, 255);
        // The policy already explained a refused host key on stderr, as ssh does.
        const reason =
          err instanceof HostKeyRejectedError ? 'host key verification failed' : (err as Error).message;
        throw new CliError(`Connection to ${dest.host} port ${port}: ${reason}`, 255);
      });
      const out = (text: string) => process.stdout.write(text);
      const shell = new SftpShell(
        conn.sftp,
        {
          out,
          progress: progressBar(!o.quiet && !batch && process.stdout.isTTY === true),
          columns: process.stdout.columns ?? 80,
        },
        await conn.sftp.realpath('.'),
      );
      if (!batch) out(`Connected to ${dest.host}.\n`);
      let failed = false;
      try {
        if (dest.path) {
          const target = await conn.sftp.stat(shell.remotePath(dest.path)).catch(() => undefined);
          if (target && ((target.permissions ?? 0) & 0o170000) === 0o040000)
            await shell.execute(`cd "${dest.path}"`);
          else {
            await shell.execute(`get "${dest.path}"`);
            return;
          }
        }
        if (batch) {
          for await (const raw of batchLines(o.batch!)) {
            const line = raw.trim();
            if (line === '' || line.startsWith('#')) continue;
            const tolerant = line.startsWith('-');
            const command = tolerant ? line.slice(1) : line;
            out(`sftp> ${line}\n`);
            try {
              if ((await shell.execute(command)) === 'quit') break;
            } catch (err) {
              process.stderr.write(`${(err as Error).message}\n`);
              if (!tolerant) {
                failed = true;
                break;
              }
            }
          }
        } else {
          await interactiveLoop(shell);
        }
      } finally {
        await conn.close();
      }
      if (failed) throw new CliError('batch stopped at a failed command', 1);
    });
}

async function interactiveLoop(shell: SftpShell): Promise<void> {
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: 'sftp> ',
    terminal: process.stdin.isTTY === true,
  });
  rl.prompt();
  let busy = Promise.resolve<'quit' | undefined>(undefined);
  await new Promise<void>((resolve) => {
    rl.on('line', (line) => {
      rl.pause();
      busy = busy.then(async () => {
        try {
          if ((await shell.execute(line)) === 'quit') {
            rl.close();
            return 'quit';
          }
        } catch (err) {
          process.stderr.write(`${(err as Error).message}\n`);
        }
        rl.resume();
        rl.prompt();
        return undefined;
      });
    });
    rl.on('close', () => {
      void busy.then(() => resolve());
    });
    rl.on('SIGINT', () => {
      process.stdout.write('\n');
      rl.prompt();
    });
  });
}
