// `ferry keys host cert ...`: OpenSSH host certificates (signed elsewhere) attached to Ferry's host keys.
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { CliError, withContext } from './common.js';
import { readKeyText } from './keys-ca.js';
import { dataDirOption, opts, storeOption } from './keys-common.js';

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
