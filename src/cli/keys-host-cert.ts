// `ferry keys host cert ...`: OpenSSH host certificates (signed elsewhere) attached to Ferry's host keys.
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { CliError, readSecretFromStdin, withContext } from './common.js';
import { readKeyText } from './keys-ca.js';
import { dataDirOption, opts, readPrivateKeyFile, storeOption } from './keys-common.js';

export function registerHostCertCommand(host: Command): void {
  const cert = host
    .command('cert')
    .description(
      'OpenSSH host certificates: a host key with one is also presented as *-cert-v01@openssh.com, so clients ' +
        'with @cert-authority in known_hosts connect without trust on first use',
    );
  cert
    .command('import')
    .description(
      'attach a host certificate (ssh-keygen -s ca -h -I id -n host host_key.pub) to the key it certifies',
    )
    .argument('<file>', 'the certificate file (…-cert.pub)')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const text = readKeyText(file);
      await withContext(opts(cmd), async (ctx) => {
        const done = await ctx.admin.keys.hostCertificates.import(cliActor(), text);
        const until = done.validBefore ? done.validBefore.toISOString() : 'forever';
        process.stdout.write(
          `host key ${done.key.id} (${done.key.sha256}) certified for ${done.principals.join(', ') || '(no principals)'} until ${until}\n`,
        );
        if (done.principals.length === 0)
          process.stderr.write('note: a host certificate without principals is refused by OpenSSH clients\n');
      });
    });
  host
    .command('certify')
    .description(
      "sign Ferry's live host keys (or one) with a host CA's private key, as ssh-keygen -s ca -h does; the CA key is " +
        'read for this command only, never stored',
    )
    .requiredOption('--ca <file>', 'the host CA private key (OpenSSH, PEM, PuTTY .ppk; mode 0600)')
    .requiredOption('--principals <names>', 'host names clients connect with, comma-separated')
    .option('--id <id>', 'only this host key (default: every pending and active key)')
    .option('--key-id <id>', 'the certificate key id', 'ferry')
    .option('--valid-days <n>', 'validity in days (default: no end)')
    .option('--passphrase-stdin', "read the CA key's passphrase from standard input")
    .option(...dataDirOption)
    .option(...storeOption)
    .action(
      async (
        o: {
          ca: string;
          principals: string;
          id?: string;
          keyId: string;
          validDays?: string;
          passphraseStdin?: boolean;
        },
        cmd: Command,
      ) => {
        if (o.id !== undefined && !/^\d+$/.test(o.id))
          throw new CliError(`host key id must be a number, got '${o.id}'`, 2);
        if (o.validDays !== undefined && !/^[1-9]\d{0,4}$/.test(o.validDays))
          throw new CliError(
            `--valid-days must be a number of days from 1 to 99999, got '${o.validDays}'`,
            2,
          );
        const caKey = readPrivateKeyFile(o.ca);
        const passphrase = o.passphraseStdin ? await readSecretFromStdin('passphrase') : undefined;
        await withContext(opts(cmd), async (ctx) => {
          const keys = await ctx.admin.keys.hostCertificates.certify(cliActor(), {
            caKey,
            passphrase,
            principals: o.principals.split(',').map((p) => p.trim()),
            keyId: o.keyId,
            ...(o.validDays ? { validDays: Number(o.validDays) } : {}),
            ...(o.id !== undefined ? { id: Number(o.id) } : {}),
          });
          for (const k of keys)
            process.stdout.write(`host key ${k.id} (${k.sha256}) certified for ${o.principals}\n`);
        });
      },
    );
  cert
    .command('remove')
    .description('detach the certificate of a host key')
    .argument('<id>', 'host key id')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (id: string, _o: unknown, cmd: Command) => {
      if (!/^\d+$/.test(id)) throw new CliError(`host key id must be a number, got '${id}'`, 2);
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.keys.hostCertificates.remove(cliActor(), Number(id));
        process.stdout.write(`host key ${id}: certificate removed\n`);
      });
    });
}
