// `ferry keys host ...`: the server's host keys (pending, active, retired), offline against the data dir.
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { describeHostKey, presentedHostKeys } from '../key-manager/host-keys.js';
import { parseSshCertificate } from '../keys/ssh-certificate.js';
import { keyTypeLabel, sha256Fingerprint } from '../keys/ssh-keys.js';
import type { HostKeyRecord } from '../store/types.js';
import { CliError, readSecretFromStdin, withContext, withReadOnlyContext } from './common.js';
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
import { registerHostCertCommand } from './keys-host-cert.js';

/** What `keys host list --json` says of a host key's certificate. */
function certificateView(blob: Buffer) {
  const c = parseSshCertificate(blob);
  const forever = c.validBefore === 0xffffffffffffffffn;
  return {
    keyId: c.keyId,
    serial: c.serial.toString(),
    principals: c.principals,
    ca: sha256Fingerprint(c.signatureKey),
    validBefore: forever ? null : new Date(Number(c.validBefore) * 1000).toISOString(),
  };
}

function hostKeyId(id: string): number {
  if (!/^\d+$/.test(id)) throw new CliError(`host key id must be a number, got '${id}'`, 2);
  return Number(id);
}

/** What `generate`/`import` say about a key's state, so nobody expects a pending key to be presented yet. */
function stateNote(key: HostKeyRecord, due: Date | undefined): string {
  if (key.state === 'active') return 'active: presented now';
  return `pending: announced to clients, not presented until promoted (ferry keys host promote ${key.id}${due ? `, or by the grace period at ${due.toISOString()}` : ''})`;
}

export function registerHostKeysCommand(keys: Command): void {
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
    .option(...storeOption)
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
            certificate: k.certificate ? certificateView(k.certificate) : null,
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
            `${String(k.id).padEnd(3)} ${keyTypeLabel(k.algorithm).padEnd(8)} ${String(k.bits).padEnd(5)} ${k.sha256.padEnd(51)} ${k.md5.padEnd(48)} ${k.createdAt.toISOString().padEnd(25)} ${state}${k.certificate ? ', certified' : ''}\n`,
          );
        }
      });
    });
  host
    .command('generate')
    .description('generate a host key: pending (announced only) until promoted, unless no key is active')
    .requiredOption('--type <type>', 'ed25519, ecdsa or rsa')
    .option('--bits <n>', 'ecdsa: 256 (default), 384, 521; rsa: 2048-16384 (default 3072)')
    .option(...dataDirOption)
    .option(...storeOption)
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
    .option(...storeOption)
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
    .option(...storeOption)
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
    .option(...storeOption)
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
    .option(...storeOption)
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
  registerHostCertCommand(host);
}
