// `ferry keys host|client|pgp ...`: the Key Manager, offline against the data dir.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { describeHostKey, presentedHostKeys } from '../key-manager/host-keys.js';
import { describePgpKey } from '../keys/pgp.js';
import type { PrivateKeyFormat, SshKeyType } from '../keys/private-keys.js';
import { keyTypeLabel } from '../keys/ssh-keys.js';
import type { HostKeyRecord } from '../store/types.js';
import {
  CliError,
  type DataDirOption,
  readSecretFromStdin,
  withContext,
  withReadOnlyContext,
} from './common.js';

const SSH_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;
const FORMATS = ['openssh', 'pem', 'ppk'] as const;

function sshType(value: string): SshKeyType {
  if (!(SSH_TYPES as readonly string[]).includes(value)) {
    throw new CliError(`unsupported key type '${value}' (use ${SSH_TYPES.join(', ')})`, 2);
  }
  return value as SshKeyType;
}

function keyFormat(value: string): PrivateKeyFormat {
  if (!(FORMATS as readonly string[]).includes(value))
    throw new CliError(`unknown format '${value}' (use ${FORMATS.join(', ')})`, 2);
  return value as PrivateKeyFormat;
}

function bitsOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new CliError(`--bits must be a number, got '${value}'`, 2);
  return Number(value);
}

/** OpenSSL reads Ed25519 PKCS#8 PEM, but ssh-keygen (9.x) does not: say so rather than let a user find out later. */
function warnPemEd25519(format: PrivateKeyFormat, algorithm: string): void {
  if (format === 'pem' && algorithm === 'ssh-ed25519') {
    process.stderr.write(
      'note: OpenSSH cannot read Ed25519 keys in PEM (PKCS#8); use --format openssh for ssh/sftp\n',
    );
  }
}

/** Reads a file that holds (or may hold) a private key; refuses one that others can read, as ssh does. */
export function readPrivateKeyFile(file: string): Buffer {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new CliError(
      `refusing to read ${file}: it is readable by group or others (mode ${mode.toString(8).padStart(3, '0')}); run chmod 600 ${file}`,
    );
  }
  return readFileSync(file);
}

/** Prints, or writes to `output` (mode 0600 for anything private). */
function emit(text: string, output: string | undefined, isPrivate: boolean): void {
  const body = text.endsWith('\n') ? text : `${text}\n`;
  if (!output) {
    process.stdout.write(body);
    return;
  }
  writeFileSync(output, body, { mode: isPrivate ? 0o600 : 0o644, flag: 'wx' });
  process.stderr.write(`wrote ${output}\n`);
}

/** Armored private block, or a binary key whose first packet is a Secret-Key packet (tag 5). */
function holdsPgpSecretKey(data: Buffer): boolean {
  if (data.includes('-----BEGIN PGP')) return data.includes('PRIVATE KEY BLOCK');
  const first = data[0] ?? 0;
  const tag = first & 0x40 ? first & 0x3f : (first >> 2) & 0x0f;
  return tag === 5;
}

const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;
const dataDirOption = ['--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)'] as const;

function hostKeyId(id: string): number {
  if (!/^\d+$/.test(id)) throw new CliError(`host key id must be a number, got '${id}'`, 2);
  return Number(id);
}

/** What `generate`/`import` say about a key's state, so nobody expects a pending key to be presented yet. */
function stateNote(key: HostKeyRecord, due: Date | undefined): string {
  if (key.state === 'active') return 'active: presented now';
  return `pending: announced to clients, not presented until promoted (ferry keys host promote ${key.id}${due ? `, or by the grace period at ${due.toISOString()}` : ''})`;
}

function registerHost(keys: Command): void {
  const host = keys
    .command('host')
    .description(
      "server host keys: the server's identity. A new key is pending (announced, not presented) until promoted " +
        '(by hand, or after hostKeyGracePeriod days); ' +
        'the key of a type promoted first is presented until retired (SIGHUP or 10 s later a running server uses changes)',
    );
  host
    .command('list')
    .description('list host keys with state (pending, active, retired), SHA256 and MD5 fingerprints')
    .option('--json', 'print JSON')
    .option(...dataDirOption)
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const hosts = ctx.admin.keys.host;
        const all = await hosts.list();
        const profile = ctx.config.algorithms;
        // What a server with this config presents: the profile decides whether ECDSA is presented at all.
        const presented = new Set(
          presentedHostKeys(all.filter((k) => profile === 'compat' || !k.algorithm.startsWith('ecdsa-'))).map(
            (k) => k.id,
          ),
        );
        if (o.json) {
          const view = all.map((k) => ({
            id: k.id,
            type: keyTypeLabel(k.algorithm).toLowerCase(),
            algorithm: k.algorithm,
            bits: k.bits,
            sha256: k.sha256,
            md5: k.md5,
            created: k.createdAt.toISOString(),
            state: k.state,
            active: k.active,
            presented: presented.has(k.id),
            activated: k.activatedAt?.toISOString() ?? null,
            promotes: hosts.promotionDue(k)?.toISOString() ?? null,
            retired: k.retiredAt?.toISOString() ?? null,
          }));
          process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          'ID  TYPE     BITS  SHA256                                              MD5                                              CREATED                   STATE\n',
        );
        for (const k of all) {
          const due = hosts.promotionDue(k);
          const state =
            k.state === 'active'
              ? presented.has(k.id)
                ? 'active, presented'
                : 'active'
              : k.state === 'pending'
                ? `pending${due ? ` (promotes ${due.toISOString()})` : ''}`
                : 'retired';
          process.stdout.write(
            `${String(k.id).padEnd(3)} ${keyTypeLabel(k.algorithm).padEnd(8)} ${String(k.bits).padEnd(5)} ${k.sha256.padEnd(51)} ${k.md5.padEnd(48)} ${k.createdAt.toISOString().padEnd(25)} ${state}\n`,
          );
        }
      });
    });
  host
    .command('generate')
    .description('generate a host key: pending (announced only) until promoted, unless no key is active')
    .requiredOption('--type <type>', 'ed25519, ecdsa or rsa')
    .option('--bits <n>', 'ecdsa: 256, 384, 521; rsa: 2048-16384 (default 3072)')
    .option(...dataDirOption)
    .action(async (o: { type: string; bits?: string }, cmd: Command) => {
      const type = sshType(o.type);
      const bits = bitsOption(o.bits);
      await withContext(opts(cmd), async (ctx) => {
        const hosts = ctx.admin.keys.host;
        const key = await hosts.generate(cliActor(), { type, bits });
        process.stdout.write(`host key ${key.id} generated: ${describeHostKey(key)}\n`);
        process.stdout.write(`${stateNote(key, hosts.promotionDue(key))}\n`);
      });
    });
  host
    .command('import')
    .description(
      'import a private host key (OpenSSH, PEM PKCS#1/SEC1/PKCS#8, PuTTY .ppk): pending until promoted, unless no key is active',
    )
    .argument('<file>', 'private key file (mode 0600)')
    .option('--passphrase-stdin', 'read the passphrase of an encrypted key from standard input')
    .option(...dataDirOption)
    .action(async (file: string, o: { passphraseStdin?: boolean }, cmd: Command) => {
      const data = readPrivateKeyFile(file);
      const passphrase = o.passphraseStdin ? await readSecretFromStdin('passphrase') : undefined;
      await withContext(opts(cmd), async (ctx) => {
        const hosts = ctx.admin.keys.host;
        const key = await hosts.import(cliActor(), { data, passphrase });
        process.stdout.write(`host key ${key.id} imported: ${describeHostKey(key)}\n`);
        process.stdout.write(`${stateNote(key, hosts.promotionDue(key))}\n`);
      });
    });
  host
    .command('promote')
    .description(
      'make a pending host key active: presented once no key of its type promoted earlier is active (retire that one)',
    )
    .argument('<id>', 'host key id (see keys host list)')
    .option(...dataDirOption)
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const keyId = hostKeyId(id);
      await withContext(opts(cmd), async (ctx) => {
        const { key, olderActive: older } = await ctx.admin.keys.host.promote(cliActor(), keyId);
        process.stdout.write(`host key ${key.id} promoted: ${describeHostKey(key)}\n`);
        if (older.length > 0) {
          process.stdout.write(
            `host key ${older.map((k) => k.id).join(', ')} of the same type is presented until retired: ferry keys host retire ID\n`,
          );
        }
      });
    });
  host
    .command('export')
    .description(
      'print a host key: the private key (OpenSSH format; audited) or, with --public, the public line',
    )
    .argument('<id>', 'host key id (see keys host list)')
    .option('--public', 'the public key only (for known_hosts)')
    .option('--format <format>', 'private key format: openssh, pem or ppk', 'openssh')
    .option('--output <file>', 'write to a new file (mode 0600 for private keys) instead of stdout')
    .option(...dataDirOption)
    .action(async (id: string, o: { public?: boolean; format: string; output?: string }, cmd: Command) => {
      const format = keyFormat(o.format);
      // A private export is audited, so it needs a writable store; a public one works on a read-only backup.
      await (o.public ? withReadOnlyContext : withContext)(opts(cmd), async (ctx) => {
        const hosts = ctx.admin.keys.host;
        const key = /^\d+$/.test(id) ? (await hosts.list()).find((k) => k.id === Number(id)) : undefined;
        if (!key) throw new CliError(`no host key with id ${id}`);
        if (o.public) {
          emit(await hosts.exportPublic(key.id), o.output, false);
          return;
        }
        warnPemEd25519(format, key.algorithm);
        // Recorded before the key leaves: an export the trail cannot record does not happen.
        const text = await hosts.exportPrivate(cliActor(), {
          id: key.id,
          format,
          destination: o.output ?? 'stdout',
        });
        emit(text.reveal(), o.output, true);
      });
    });
  host
    .command('retire')
    .description(
      'stop presenting and announcing a host key (after clients learned its successor), or withdraw a pending one',
    )
    .argument('<id>', 'host key id')
    .option(...dataDirOption)
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const keyId = hostKeyId(id);
      await withContext(opts(cmd), async (ctx) => {
        const all = await ctx.admin.keys.host.retire(cliActor(), keyId);
        process.stdout.write(`host key ${id} retired\n`);
        const algorithm = all.find((k) => k.id === keyId)?.algorithm;
        const waiting = all.filter((k) => k.algorithm === algorithm && k.state === 'pending');
        if (waiting.length > 0 && !all.some((k) => k.algorithm === algorithm && k.active)) {
          process.stderr.write(
            `note: no ${keyTypeLabel(algorithm ?? '')} host key is presented now; pending: ${waiting.map((k) => k.id).join(', ')} (ferry keys host promote ID)\n`,
          );
        }
      });
    });
}

function registerClient(keys: Command): void {
  const client = keys.command('client').description('key pairs Ferry uses to log in to partners');
  client
    .command('generate')
    .description('generate a key pair Ferry keeps')
    .argument('<name>', 'key name')
    .requiredOption('--type <type>', 'ed25519, ecdsa or rsa')
    .option('--bits <n>', 'ecdsa: 256, 384, 521; rsa: 2048-16384 (default 3072)')
    .option(...dataDirOption)
    .action(async (name: string, o: { type: string; bits?: string }, cmd: Command) => {
      const type = sshType(o.type);
      const bits = bitsOption(o.bits);
      await withContext(opts(cmd), async (ctx) => {
        const clients = ctx.admin.keys.client;
        const key = await clients.generate(cliActor(), name, { type, bits });
        process.stdout.write(
          `client key ${name}: ${describeHostKey(key)}\n${await clients.exportPublic(name)}\n`,
        );
      });
    });
  client
    .command('import')
    .description('import a private key (OpenSSH, PEM, PuTTY .ppk)')
    .argument('<name>', 'key name')
    .argument('<file>', 'private key file (mode 0600)')
    .option('--passphrase-stdin', 'read the passphrase of an encrypted key from standard input')
    .option(...dataDirOption)
    .action(async (name: string, file: string, o: { passphraseStdin?: boolean }, cmd: Command) => {
      const data = readPrivateKeyFile(file);
      const passphrase = o.passphraseStdin ? await readSecretFromStdin('passphrase') : undefined;
      await withContext(opts(cmd), async (ctx) => {
        const key = await ctx.admin.keys.client.import(cliActor(), name, { data, passphrase });
        process.stdout.write(`client key ${name} imported: ${describeHostKey(key)}\n`);
      });
    });
  client
    .command('export')
    .description(
      'print a client key: private (openssh, pem, ppk for PuTTY) or, with --public, the authorized_keys line',
    )
    .argument('<name>', 'key name')
    .option('--public', 'the public key only (give it to the partner)')
    .option('--format <format>', 'openssh, pem or ppk', 'openssh')
    .option(
      '--passphrase-stdin',
      'encrypt the exported private key with a passphrase read from standard input',
    )
    .option('--output <file>', 'write to a new file (mode 0600 for private keys) instead of stdout')
    .option(...dataDirOption)
    .action(
      async (
        name: string,
        o: { public?: boolean; format: string; passphraseStdin?: boolean; output?: string },
        cmd: Command,
      ) => {
        const format = keyFormat(o.format);
        const passphrase =
          o.passphraseStdin && !o.public ? await readSecretFromStdin('passphrase') : undefined;
        await (o.public ? withReadOnlyContext : withContext)(opts(cmd), async (ctx) => {
          const clients = ctx.admin.keys.client;
          if (o.public) {
            emit(await clients.exportPublic(name), o.output, false);
            return;
          }
          const key = await clients.get(name);
          warnPemEd25519(format, key.algorithm);
          const text = await clients.exportPrivate(cliActor(), {
            name,
            format,
            passphrase,
            destination: o.output ?? 'stdout',
          });
          emit(text.reveal(), o.output, true);
        });
      },
    );
  client
    .command('list')
    .description('list client keys')
    .option('--json', 'print JSON')
    .option(...dataDirOption)
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = await ctx.admin.keys.client.list();
        if (o.json) {
          const view = all.map((k) => ({
            name: k.name,
            algorithm: k.algorithm,
            bits: k.bits,
            sha256: k.sha256,
            md5: k.md5,
            created: k.createdAt.toISOString(),
          }));
          process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
          return;
        }
        for (const k of all)
          process.stdout.write(`${k.name.padEnd(24)} ${describeHostKey(k)}  ${k.createdAt.toISOString()}\n`);
      });
    });
  client
    .command('remove')
    .description('delete a client key')
    .argument('<name>', 'key name')
    .option(...dataDirOption)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.keys.client.remove(cliActor(), name);
        process.stdout.write(`client key ${name} removed\n`);
      });
    });
}

function registerPgp(keys: Command): void {
  const pgp = keys
    .command('pgp')
    .description('OpenPGP keys for encryption at rest and for partners (GnuPG compatible)');
  pgp
    .command('generate')
    .description('generate an OpenPGP key pair (v4, readable by GnuPG 2.2)')
    .argument('<name>', 'key name')
    .requiredOption('--email <email>', 'e-mail of the user id')
    .option('--user-name <text>', 'name of the user id (default: the key name)')
    .option('--type <type>', 'curve25519 or rsa4096', 'curve25519')
    .option('--expires <days>', 'days until the key expires (default: never)')
    .option(...dataDirOption)
    .action(
      async (
        name: string,
        o: { email: string; userName?: string; type: string; expires?: string },
        cmd: Command,
      ) => {
        if (o.type !== 'curve25519' && o.type !== 'rsa4096')
          throw new CliError(`unsupported OpenPGP key type '${o.type}' (use curve25519, rsa4096)`, 2);
        const expiresInDays = bitsOption(o.expires);
        const type = o.type;
        await withContext(opts(cmd), async (ctx) => {
          const key = await ctx.admin.keys.pgp.generate(cliActor(), {
            name,
            email: o.email,
            userName: o.userName,
            type,
            expiresInDays,
          });
          process.stdout.write(`OpenPGP key ${name}: ${key.fingerprint} ${key.userIds.join(', ')}\n`);
        });
      },
    );
  pgp
    .command('import')
    .description('import an OpenPGP key, armored or binary, public or private')
    .argument('<file>', 'key file (a private key file must be mode 0600)')
    .option('--name <name>', 'name to store it under (default: its key id)')
    .option('--passphrase-stdin', 'passphrase of a protected private key, from standard input')
    .option(...dataDirOption)
    .action(async (file: string, o: { name?: string; passphraseStdin?: boolean }, cmd: Command) => {
      let data: Buffer;
      try {
        data = readFileSync(file);
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
      }
      if (holdsPgpSecretKey(data)) data = readPrivateKeyFile(file);
      const passphrase = o.passphraseStdin ? await readSecretFromStdin('passphrase') : undefined;
      await withContext(opts(cmd), async (ctx) => {
        const key = await ctx.admin.keys.pgp.import(cliActor(), { data, name: o.name, passphrase });
        process.stdout.write(
          `OpenPGP key ${key.name} imported: ${key.fingerprint} ${key.userIds.join(', ')}${key.privateSealed ? ' (with private key)' : ''}\n`,
        );
      });
    });
  pgp
    .command('export')
    .description('print an OpenPGP key, armored (public unless --private)')
    .argument('<name>', 'key name')
    .option('--private', 'the private key (unprotected; keep it safe; audited)')
    .option('--output <file>', 'write to a new file (mode 0600 for private keys) instead of stdout')
    .option(...dataDirOption)
    .action(async (name: string, o: { private?: boolean; output?: string }, cmd: Command) => {
      // A private export is audited, so it needs a writable store; a public one works on a read-only backup.
      await (o.private ? withContext : withReadOnlyContext)(opts(cmd), async (ctx) => {
        const pgp = ctx.admin.keys.pgp;
        if (!o.private) {
          emit(await pgp.exportPublic(name), o.output, false);
          return;
        }
        const armored = await pgp.exportPrivate(cliActor(), { name, destination: o.output ?? 'stdout' });
        emit(armored.reveal(), o.output, true);
      });
    });
  pgp
    .command('list')
    .description('list OpenPGP keys with fingerprints and expiry')
    .option('--json', 'print JSON')
    .option(...dataDirOption)
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = await ctx.admin.keys.pgp.list();
        if (o.json) {
          const view = all.map((k) => ({
            name: k.name,
            fingerprint: k.fingerprint,
            keyId: k.keyId,
            userIds: k.userIds,
            algorithm: k.algorithm,
            created: k.createdAt.toISOString(),
            expires: k.expiresAt?.toISOString() ?? null,
            private: k.privateSealed !== null,
          }));
          process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
          return;
        }
        for (const k of all) {
          const line = describePgpKey({
            fingerprint: k.fingerprint,
            keyId: k.keyId,
            userIds: k.userIds,
            algorithm: k.algorithm,
            created: k.createdAt,
            expires: k.expiresAt,
            subkeys: [],
            publicArmored: k.publicArmored,
            hasPrivate: k.privateSealed !== null,
          });
          process.stdout.write(`${k.name.padEnd(20)} ${line}\n                     ${k.fingerprint}\n`);
        }
      });
    });
  pgp
    .command('remove')
    .description('delete an OpenPGP key')
    .argument('<name>', 'key name')
    .option(...dataDirOption)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.keys.pgp.remove(cliActor(), name);
        process.stdout.write(`OpenPGP key ${name} removed\n`);
      });
    });
}

export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description(
      'Key Manager: host keys, client keys, OpenPGP keys (private halves sealed with the master key)',
    )
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  registerHost(keys);
  registerClient(keys);
  registerPgp(keys);
}
