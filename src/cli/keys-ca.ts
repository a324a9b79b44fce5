// `ferry keys ca ...`: trusted OpenSSH user certificate authorities and revoked certificates, in the store.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import type { RevokeInput } from '../admin/ssh-certificates.js';
import { CliError, withContext, withReadOnlyContext } from './common.js';
import { dataDirOption, opts, storeOption } from './keys-common.js';

/** A small text file (a .pub line), or one line of error. */
export function readKeyText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      2,
    );
  }
}

interface RevokeOptions {
  serial?: string;
  ca?: string;
  keyId?: string;
  fingerprint?: string;
  krl?: string;
}

function readKrlFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      2,
    );
  }
}

function revokeInput(o: RevokeOptions): RevokeInput | { krl: string } {
  const given = [o.serial, o.keyId, o.fingerprint, o.krl].filter((v) => v !== undefined).length;
  if (given !== 1)
    throw new CliError(
      'give exactly one of --serial N --ca NAME, --key-id ID, --fingerprint SHA256:…, --krl FILE',
      2,
    );
  if (o.krl !== undefined) {
    if (o.ca !== undefined) throw new CliError('--ca goes with --serial only (a KRL names its CAs)', 2);
    return { krl: o.krl };
  }
  if (o.serial !== undefined) {
    if (o.ca === undefined) throw new CliError('--serial needs --ca NAME (serials are per CA)', 2);
    return { serial: o.serial, ca: o.ca };
  }
  if (o.ca !== undefined) throw new CliError('--ca goes with --serial only', 2);
  return o.keyId !== undefined ? { keyId: o.keyId } : { fingerprint: o.fingerprint! };
}

export function registerCaKeysCommand(keys: Command): void {
  const ca = keys
    .command('ca')
    .description(
      'OpenSSH user certificate authorities: a certificate signed by a trusted CA logs in the Ferry users named in ' +
        'its principals; revocations apply to every login at once',
    );
  ca.command('add')
    .description('trust a user CA (its public key, e.g. ca.pub from ssh-keygen)')
    .argument('<file>', 'the CA public key file')
    .option('--name <name>', "name of the CA (default: the key's comment)")
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (file: string, o: { name?: string }, cmd: Command) => {
      const text = readKeyText(file);
      await withContext(opts(cmd), async (ctx) => {
        const added = await ctx.admin.keys.ca.add(cliActor(), text, o.name);
        process.stdout.write(`user CA ${added.name} trusted: ${added.algorithm} ${added.fingerprint}\n`);
      });
    });
  ca.command('list')
    .description('list trusted user CAs')
    .option('--json', 'print JSON')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = await ctx.admin.keys.ca.list();
        if (o.json) {
          const view = all.map((c) => ({
            name: c.name,
            algorithm: c.algorithm,
            sha256: c.fingerprint,
            created: c.createdAt.toISOString(),
          }));
          process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
          return;
        }
        for (const c of all)
          process.stdout.write(
            `${c.name.padEnd(24)} ${c.algorithm.padEnd(20)} ${c.fingerprint}  ${c.createdAt.toISOString()}\n`,
          );
      });
    });
  ca.command('remove')
    .description('stop trusting a user CA: its certificates no longer log in')
    .argument('<name>', 'CA name (see keys ca list)')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.keys.ca.remove(cliActor(), name);
        process.stdout.write(`user CA ${name} removed\n`);
      });
    });
  ca.command('revoke')
    .description('revoke user certificates: one serial of one CA, every certificate with a key id, or a key')
    .option('--serial <n>', 'the certificate serial (ssh-keygen -z)')
    .option('--ca <name>', 'the CA that issued --serial')
    .option('--key-id <id>', 'the certificate key id (ssh-keygen -I)')
    .option('--fingerprint <SHA256:…>', 'the certified key (ssh-keygen -lf key.pub)')
    .option('--krl <file>', 'every revocation of an OpenSSH KRL file (ssh-keygen -k)')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (o: RevokeOptions, cmd: Command) => {
      const input = revokeInput(o);
      const krl = 'krl' in input ? readKrlFile(input.krl) : undefined;
      await withContext(opts(cmd), async (ctx) => {
        if (krl) {
          const done = await ctx.admin.keys.ca.importKrl(cliActor(), krl);
          process.stdout.write(`KRL: ${done.added} revocations added, ${done.already} already present\n`);
          return;
        }
        const r = await ctx.admin.keys.ca.revoke(cliActor(), input as RevokeInput);
        process.stdout.write(`revocation ${r.id}: ${r.kind} ${r.value} revoked\n`);
      });
    });
  ca.command('revocations')
    .description('list revoked certificates')
    .option('--json', 'print JSON')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = await ctx.admin.keys.ca.revocations();
        const cas = new Map((await ctx.admin.keys.ca.list()).map((c) => [c.fingerprint, c.name]));
        const view = all.map((r) => ({
          id: r.id,
          kind: r.kind,
          value: r.value,
          ca: r.caFingerprint ? (cas.get(r.caFingerprint) ?? r.caFingerprint) : null,
          created: r.createdAt.toISOString(),
        }));
        if (o.json) {
          process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
          return;
        }
        for (const r of view)
          process.stdout.write(
            `${String(r.id).padEnd(5)} ${r.kind.padEnd(12)} ${r.value}${r.ca ? ` (CA ${r.ca})` : ''}\n`,
          );
      });
    });
  ca.command('unrevoke')
    .description('remove a revocation')
    .argument('<id>', 'revocation id (see keys ca revocations)')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (id: string, _o: unknown, cmd: Command) => {
      if (!/^\d+$/.test(id)) throw new CliError(`revocation id must be a number, got '${id}'`, 2);
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.keys.ca.unrevoke(cliActor(), Number(id));
        process.stdout.write(`revocation ${id} removed\n`);
      });
    });
}
