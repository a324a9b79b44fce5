// `ferry partners ...`: remote SFTP and FTPS servers Ferry pulls from and pushes to; host keys and certificates
// pinned by a person.
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import type { PartnerRecord } from '../store/types.js';
import { normalizeCertFingerprint } from '../transfers/ftps-connection.js';
import { formatDuration } from '../transfers/timing.js';
import {
  algorithmsOption,
  CLIENT_ALGORITHMS_HELP,
  CliError,
  type DataDirOption,
  readSecretFromStdin,
  STORE_OPTION_HELP,
  withContext,
  withReadOnlyContext,
} from './common.js';
import { commandDescription } from './descriptions.js';
import { confirm } from './terminal.js';

function portOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new CliError(`--port must be a number, got '${value}'`, 2);
  return Number(value);
}

function view(p: PartnerRecord) {
  return {
    name: p.name,
    protocol: p.protocol,
    host: p.host,
    port: p.port,
    user: p.username,
    auth: [p.clientKey ? `key ${p.clientKey}` : null, p.passwordSealed ? 'password' : null]
      .filter(Boolean)
      .join(' + '),
    hostKey: p.hostKeySha256 ? `${p.hostKeyAlgorithm} ${p.hostKeySha256}` : null,
    caFile: p.tlsCaFile,
    renameUploads: p.renameUploads,
    readBack: p.readBack,
    algorithms: p.algorithms,
    created: p.createdAt.toISOString(),
  };
}

const SHA256_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function registerPartnersCommand(program: Command): void {
  const partners = program
    .command('partners')
    .description(commandDescription('partners'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  partners
    .command('add')
    .description('add a partner (no host key is trusted yet: run `partners trust` next)')
    .argument('<name>', 'partner name')
    .requiredOption('--host <host>', 'host name or address')
    .option('--protocol <protocol>', 'sftp, ftps (explicit, AUTH TLS) or ftps-implicit', 'sftp')
    .option('--port <port>', 'port (default 22 for sftp, 21 for ftps, 990 for ftps-implicit)')
    .requiredOption('--user <user>', 'login name')
    .option('--password-stdin', 'read the password from standard input (stored sealed with the master key)')
    .option('--client-key <name>', 'log in with this client key from `ferry keys client`')
    .option('--no-rename', 'upload straight to the final name (for servers that forbid rename)')
    .option('--read-back', 'without server-side SHA-256 (check-file, HASH), read each file back to verify it')
    .option('--ca-file <pem>', 'FTPS: verify the certificate and host name against these CAs (no trust step)')
    .option('--algorithms <profile>', CLIENT_ALGORITHMS_HELP, 'modern')
    .action(
      async (
        name: string,
        o: {
          protocol: string;
          caFile?: string;
          host: string;
          port?: string;
          user: string;
          passwordStdin?: boolean;
          clientKey?: string;
          rename: boolean;
          readBack?: boolean;
          algorithms: string;
        },
        cmd: Command,
      ) => {
        if (o.protocol === 'sftp' && !o.passwordStdin && !o.clientKey)
          throw new CliError('give --password-stdin or --client-key (or both, for two-factor servers)', 2);
        const algorithms = algorithmsOption(o.algorithms);
        if (o.protocol !== 'sftp' && !o.passwordStdin)
          throw new CliError('an FTPS partner logs in with a password: give --password-stdin', 2);
        const password = o.passwordStdin ? await readSecretFromStdin('password') : undefined;
        await withContext(opts(cmd), async (ctx) => {
          const partner = await ctx.admin.partners.add(cliActor(), {
            name,
            protocol: o.protocol as 'sftp',
            ...(o.caFile !== undefined ? { caFile: o.caFile } : {}),
            host: o.host,
            port: portOption(o.port),
            user: o.user,
            password,
            clientKey: o.clientKey,
            renameUploads: o.rename,
            readBack: o.readBack ?? false,
            algorithms,
          });
          const next = partner.tlsCaFile ? '' : `; next: ferry partners trust ${name}`;
          process.stdout.write(
            `partner ${name} added (${partner.protocol} ${partner.username}@${partner.host}:${partner.port})${next}\n`,
          );
        });
      },
    );

  partners
    .command('set')
    .description(
      'change a partner (a new host, port or protocol forgets the trusted host key or certificate: run `partners trust` again)',
    )
    .argument('<name>', 'partner name')
    .option('--protocol <protocol>', 'sftp, ftps or ftps-implicit')
    .option('--host <host>', 'host name or address')
    .option('--port <port>', 'port')
    .option('--user <user>', 'login name')
    .option('--password-stdin', 'read a new password from standard input (stored sealed)')
    .option('--remove-password', 'forget the stored password (the client key must then do)')
    .option('--client-key <name>', "log in with this client key; 'none' to stop using one")
    .option('--rename', 'upload under a temporary name and rename when complete')
    .option('--no-rename', 'upload straight to the final name')
    .option('--read-back', 'without check-file, read each file back to verify it')
    .option('--no-read-back', 'do not read files back')
    .option('--algorithms <profile>', CLIENT_ALGORITHMS_HELP.replace(' (default: ', ' ('))
    .option('--ca-file <pem>', "FTPS: verify the certificate against these CAs; 'none' to pin it instead")
    .action(
      async (
        name: string,
        o: {
          protocol?: string;
          caFile?: string;
          host?: string;
          port?: string;
          user?: string;
          passwordStdin?: boolean;
          removePassword?: boolean;
          clientKey?: string;
          rename?: boolean;
          readBack?: boolean;
          algorithms?: string;
        },
        cmd: Command,
      ) => {
        const algorithms = algorithmsOption(o.algorithms);
        if (o.passwordStdin && o.removePassword)
          throw new CliError('give --password-stdin or --remove-password, not both', 2);
        const password = o.passwordStdin
          ? await readSecretFromStdin('password')
          : o.removePassword
            ? null
            : undefined;
        await withContext(opts(cmd), async (ctx) => {
          const p = await ctx.admin.partners.set(cliActor(), {
            name,
            ...(o.host !== undefined ? { host: o.host } : {}),
            ...(o.port !== undefined ? { port: portOption(o.port) } : {}),
            ...(o.user !== undefined ? { user: o.user } : {}),
            ...(password !== undefined ? { password } : {}),
            ...(o.clientKey !== undefined ? { clientKey: o.clientKey === 'none' ? null : o.clientKey } : {}),
            ...(o.rename !== undefined ? { renameUploads: o.rename } : {}),
            ...(o.readBack !== undefined ? { readBack: o.readBack } : {}),
            ...(algorithms !== undefined ? { algorithms } : {}),
            ...(o.protocol !== undefined ? { protocol: o.protocol as 'sftp' } : {}),
            ...(o.caFile !== undefined ? { caFile: o.caFile === 'none' ? null : o.caFile } : {}),
          });
          const trusted = p.hostKeySha256 || p.tlsCaFile;
          process.stdout.write(
            `partner ${name} changed (${p.protocol} ${p.username}@${p.host}:${p.port})${trusted ? '' : `; not trusted: ferry partners trust ${name}`}\n`,
          );
        });
      },
    );

  partners
    .command('list')
    .description('list partners')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = (await ctx.admin.partners.list()).map(view);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          'NAME             PROTOCOL      ADDRESS                          USER         HOST KEY / CERTIFICATE\n',
        );
        for (const p of all) {
          const identity = p.hostKey ?? (p.caFile ? `CA ${p.caFile}` : 'NOT TRUSTED');
          process.stdout.write(
            `${p.name.padEnd(16)} ${p.protocol.padEnd(13)} ${`${p.host}:${p.port}`.padEnd(32)} ${p.user.padEnd(12)} ${identity}\n`,
          );
        }
      });
    });

  partners
    .command('show')
    .description('show one partner')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const p = view(await ctx.admin.partners.get(name));
        if (o.json) {
          process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          [
            `name:           ${p.name}`,
            `protocol:       ${p.protocol}`,
            `address:        ${p.host}:${p.port}`,
            `user:           ${p.user}`,
            `login:          ${p.auth}`,
            p.protocol === 'sftp'
              ? `host key:       ${p.hostKey ?? 'not trusted (ferry partners trust NAME)'}`
              : `certificate:    ${p.caFile ? `verified against CA file ${p.caFile} and the host name` : (p.hostKey ?? 'not trusted (ferry partners trust NAME)')}`,
            `uploads:        ${p.renameUploads ? 'temporary name, renamed when complete' : 'straight to the final name'}`,
            `algorithms:     ${p.algorithms}${p.algorithms === 'compat' ? ' (also NIST ECDH and ECDSA host keys)' : ' (post-quantum first; no SHA-1, CBC, DSA or NIST ECDH)'}`,
            `verify:         size, SHA-256 via ${p.protocol === 'sftp' ? 'check-file' : 'HASH'} when offered${p.readBack ? ', else read-back' : ''}`,
            `created:        ${p.created}`,
          ].join('\n') + '\n',
        );
      });
    });

  partners
    .command('trust')
    .description(
      "fetch the partner's host key (FTPS: its TLS certificate), show its SHA-256 fingerprint and pin it once confirmed",
    )
    .argument('<name>')
    .option(
      '--fingerprint <sha256>',
      'pin only if the server presents this fingerprint: SHA256:... (SSH), or AA:BB:... (FTPS certificate) (scripts)',
    )
    .option('--yes', 'pin whatever the server presents, without asking (trust on first use)')
    .action(async (name: string, o: { fingerprint?: string; yes?: boolean }, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const partner = await ctx.admin.partners.get(name);
        const tls = partner.protocol !== 'sftp';
        let wanted = o.fingerprint;
        if (wanted !== undefined && tls) {
          wanted = normalizeCertFingerprint(wanted);
          if (!wanted)
            throw new CliError('--fingerprint must be a certificate SHA-256: 32 hex bytes, AA:BB:...', 2);
        } else if (wanted !== undefined && !SHA256_FINGERPRINT.test(wanted))
          throw new CliError('--fingerprint must look like SHA256: followed by 43 base64 characters', 2);
        const key = await ctx.admin.partners.presentedHostKey(name);
        const what = tls ? 'TLS certificate' : `${key.algorithm} host key`;
        process.stderr.write(
          `The ${what} of ${partner.host}:${partner.port} has ${tls ? 'SHA-256 ' : ''}fingerprint\n  ${key.sha256}\n`,
        );
        if (partner.hostKeySha256 && partner.hostKeySha256 !== key.sha256)
          process.stderr.write(`WARNING: this differs from the trusted one ${partner.hostKeySha256}\n`);
        let accepted: boolean;
        if (wanted !== undefined) {
          accepted = wanted === key.sha256;
          if (!accepted)
            throw new CliError(`the server presents ${key.sha256}, not ${wanted}: ${what} NOT trusted`);
        } else if (o.yes) {
          accepted = true;
        } else if (process.stdin.isTTY) {
          accepted = await confirm(
            'Compare it with the fingerprint the partner gave you. Trust it (yes/no/[fingerprint])? ',
            key.sha256,
          );
        } else {
          throw new CliError('not a terminal: confirm with --fingerprint (or --yes)', 2);
        }
        if (!accepted) throw new CliError(`${what} not trusted`);
        await ctx.admin.partners.trust(cliActor(), { name, algorithm: key.algorithm, sha256: key.sha256 });
        process.stdout.write(`partner ${name}: ${tls ? 'certificate' : 'host key'} ${key.sha256} trusted\n`);
      });
    });

  partners
    .command('test')
    .description('connect and log in, list the home directory, report algorithms and latency')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const r = await ctx.admin.partners.test(name);
        if (r.protocol === 'ftps') {
          process.stdout.write(
            [
              `partner ${name}: OK`,
              `server:      ${r.serverBanner || 'unknown'}`,
              `certificate: SHA-256 ${r.hostKey.sha256} (trusted)`,
              `tls:         ${r.kex}, ${r.cipher}`,
              `latency:     TCP ${formatDuration(r.connectMs)}, TLS and login ${formatDuration(r.loginMs)}, PWD ${formatDuration(r.requestMs)}`,
              `home:        ${r.home} (${r.entries} entries)`,
              `SHA-256 on server: ${r.serverHash ? 'yes (HASH)' : 'no'}`,
              `features:    ${r.extensions.join(', ') || 'none'}`,
            ].join('\n') + '\n',
          );
          return;
        }
        // Loaded here, not at start-up: it loads ssh2, which every other command can do without.
        const { isPostQuantumKex } = await import('../ssh-algorithms.js');
        process.stdout.write(
          [
            `partner ${name}: OK`,
            `server:     ${r.serverBanner || 'unknown'}`,
            `host key:   ${r.hostKey.algorithm} ${r.hostKey.sha256} (trusted)`,
            `kex:        ${r.kex} (${isPostQuantumKex(r.kex) ? 'post-quantum' : 'not post-quantum'})`,
            `cipher:     ${r.cipher}${r.mac ? ` / ${r.mac}` : ''}`,
            `latency:    TCP ${formatDuration(r.connectMs)}, SSH login ${formatDuration(r.loginMs)}, SFTP request ${formatDuration(r.requestMs)}`,
            `home:       ${r.home} (${r.entries} entries)`,
            `transfer:   ${r.chunk / 1024} KiB per request, 64 in flight; SHA-256 on server: ${r.extensions.includes('check-file-name') ? 'yes' : 'no'}`,
            `extensions: ${r.extensions.join(', ') || 'none'}`,
          ].join('\n') + '\n',
        );
      });
    });

  partners
    .command('remove')
    .description('remove a partner (refused while a job uses it)')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.partners.remove(cliActor(), name);
        process.stdout.write(`partner ${name} removed\n`);
      });
    });
}
