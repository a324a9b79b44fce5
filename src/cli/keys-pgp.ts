// `ferry keys pgp ...`: OpenPGP keys for encryption at rest and for partners, offline against the data dir.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { describePgpKey } from '../keys/pgp.js';
import { CliError, readSecretFromStdin, withContext, withReadOnlyContext } from './common.js';
import { bitsOption, dataDirOption, emit, opts, readPrivateKeyFile, storeOption } from './keys-common.js';

/** Armored private block, or a binary key whose first packet is a Secret-Key packet (tag 5). */
function holdsPgpSecretKey(data: Buffer): boolean {
  if (data.includes('-----BEGIN PGP')) return data.includes('PRIVATE KEY BLOCK');
  const first = data[0] ?? 0;
  const tag = first & 0x40 ? first & 0x3f : (first >> 2) & 0x0f;
  return tag === 5;
}

export function registerPgpKeysCommand(keys: Command): void {
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
    .option(...storeOption)
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
    .option(...storeOption)
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
    .option(...storeOption)
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
    .option(...storeOption)
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
    .option(...storeOption)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.keys.pgp.remove(cliActor(), name);
        process.stdout.write(`OpenPGP key ${name} removed\n`);
      });
    });
}
