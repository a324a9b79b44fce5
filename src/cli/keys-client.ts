// `ferry keys client ...`: the key pairs Ferry uses to log in to partners, offline against the data dir.
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { describeHostKey } from '../key-manager/host-keys.js';
import { readSecretFromStdin, withContext, withReadOnlyContext } from './common.js';
import {
  bitsOption,
  dataDirOption,
  emit,
  keyFormat,
  opts,
  readPrivateKeyFile,
  sshType,
  storeOption,
  warnPemEd25519,
} from './keys-common.js';

export function registerClientKeysCommand(keys: Command): void {
  const client = keys.command('client').description('key pairs Ferry uses to log in to partners');
  client
    .command('generate')
    .description('generate a key pair Ferry keeps')
    .argument('<name>', 'key name')
    .requiredOption('--type <type>', 'ed25519, ecdsa or rsa')
    .option('--bits <n>', 'ecdsa: 256 (default), 384, 521; rsa: 2048-16384 (default 3072)')
    .option(...dataDirOption)
    .option(...storeOption)
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
    .option(...storeOption)
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
    .option(...storeOption)
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
    .option(...storeOption)
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
    .option(...storeOption)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.keys.client.remove(cliActor(), name);
        process.stdout.write(`client key ${name} removed\n`);
      });
    });
}
