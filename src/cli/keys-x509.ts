// `ferry keys x509 ...`: X.509 certificates the HTTP API and FTPS serve TLS with (http.tlsKeyName, ftps.tlsKeyName), offline against the data dir.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import type { CertificateRecord } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { CliError, withContext, withReadOnlyContext } from './common.js';
import { bitsOption, dataDirOption, emit, opts, readPrivateKeyFile, storeOption } from './keys-common.js';

function describe(c: CertificateRecord): string {
  return `${c.algorithm} ${c.subject}${c.altNames ? ` (${c.altNames})` : ''} valid until ${c.notAfter.toISOString()}\n  SHA-256 fingerprint ${c.fingerprint}`;
}

function daysOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value)) throw new CliError(`--days must be a number of days, got '${value}'`, 2);
  return Number(value);
}

function readCertificateFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

export function registerX509KeysCommand(keys: Command): void {
  const x509 = keys
    .command('x509')
    .description('X.509 certificates for the HTTP API and FTPS (http.tlsKeyName, ftps.tlsKeyName)');
  x509
    .command('generate')
    .description('generate a self-signed certificate for this host (the key stays sealed in the store)')
    .argument('<name>', 'certificate name')
    .option('--cn <name>', 'subject common name (default: the host name)')
    .option(
      '--san <names>',
      'subjectAltName, comma-separated DNS:name and IP:address (default: the common name)',
    )
    .option('--days <n>', 'validity in days (1-36500)', '365')
    .option('--type <type>', 'ecdsa (P-256) or rsa', 'ecdsa')
    .option('--bits <n>', 'rsa: 2048-8192 (default 3072)')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(
      async (
        name: string,
        o: { cn?: string; san?: string; days?: string; type: string; bits?: string },
        cmd: Command,
      ) => {
        if (o.type !== 'ecdsa' && o.type !== 'rsa')
          throw new CliError(`unsupported key type '${o.type}' (use ecdsa, rsa)`, 2);
        const input = {
          name,
          type: o.type,
          ...(o.cn !== undefined ? { cn: o.cn } : {}),
          ...(o.san !== undefined ? { san: o.san.split(',').filter((s) => s.trim() !== '') } : {}),
          ...(o.days !== undefined ? { days: daysOption(o.days) } : {}),
          ...(o.bits !== undefined ? { bits: bitsOption(o.bits) } : {}),
        } as const;
        await withContext(opts(cmd), async (ctx) => {
          const cert = await ctx.admin.keys.x509.generate(cliActor(), input);
          process.stdout.write(`certificate ${name}: ${describe(cert)}\n`);
        });
      },
    );
  x509
    .command('import')
    .description('import a PEM certificate chain (leaf first) and its unencrypted private key')
    .argument('<name>', 'certificate name')
    .requiredOption('--cert <file>', 'PEM certificate chain, leaf first')
    .requiredOption('--key <file>', 'PEM private key of the leaf (mode 0600)')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (name: string, o: { cert: string; key: string }, cmd: Command) => {
      const chain = readCertificateFile(o.cert);
      const key = new Secret(readPrivateKeyFile(o.key).toString('utf8'));
      await withContext(opts(cmd), async (ctx) => {
        const cert = await ctx.admin.keys.x509.import(cliActor(), { name, chain, key });
        process.stdout.write(`certificate ${name} imported: ${describe(cert)}\n`);
      });
    });
  x509
    .command('list')
    .description('list certificates with their SHA-256 fingerprints')
    .option('--json', 'print JSON')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = await ctx.admin.keys.x509.list();
        if (o.json) {
          const view = all.map((c) => ({
            name: c.name,
            algorithm: c.algorithm,
            subject: c.subject,
            issuer: c.issuer,
            altNames: c.altNames,
            sha256: c.fingerprint,
            notBefore: c.notBefore.toISOString(),
            notAfter: c.notAfter.toISOString(),
          }));
          process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
          return;
        }
        for (const c of all) process.stdout.write(`${c.name.padEnd(24)} ${describe(c)}\n`);
      });
    });
  x509
    .command('export')
    .description('print the public certificate chain (PEM): what clients trust, e.g. curl --cacert')
    .argument('<name>', 'certificate name')
    .option('--output <file>', 'write to a new file instead of stdout')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (name: string, o: { output?: string }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        emit(await ctx.admin.keys.x509.exportChain(name), o.output, false);
      });
    });
  x509
    .command('remove')
    .description('delete a certificate and its key')
    .argument('<name>', 'certificate name')
    .option(...dataDirOption)
    .option(...storeOption)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.keys.x509.remove(cliActor(), name);
        process.stdout.write(`certificate ${name} removed\n`);
      });
    });
}
