// The admin services' table, first slice: users (with their import and export), groups, folders and every kind
// of key. What it makes stays for the operations slice, which removes the user, group and folder at its end.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportPrivateKey, generateSshKeyPair } from '../../src/keys/private-keys.js';
import { generateCertificate } from '../../src/keys/x509.js';
import { Secret } from '../../src/util/secret.js';
import { type AdminRow, type AdminRowsHarness, NEW_PASSWORD, PASSWORD } from './admin-rows-shared.js';

const caKey = () => generateSshKeyPair('ed25519', undefined, 'ca');
const userKey = () => generateSshKeyPair('ed25519', undefined, 'alice@laptop').publicLine;

export function accountRows({ ctx, dir, actor, handedOut }: AdminRowsHarness): AdminRow[] {
  return [
    { action: 'users.first-start', run: () => ctx().admin.users.ensureAdmin(actor, new Secret(PASSWORD)) },
    {
      action: 'users.add',
      run: () =>
        ctx().admin.users.add(actor, {
          name: 'alice',
          password: new Secret(PASSWORD),
          publicKeys: [userKey()],
          permissions: ['/in=list,upload'],
        }),
    },
    {
      action: 'users.set',
      run: () => ctx().admin.users.set(actor, { name: 'alice', permissions: ['/out=download'] }),
    },
    { action: 'users.passwd', run: () => ctx().admin.users.passwd(actor, 'alice', new Secret(NEW_PASSWORD)) },
    { action: 'users.keys.add', run: () => ctx().admin.users.addKeys(actor, 'alice', userKey()) },
    {
      action: 'users.keys.remove',
      run: async () => {
        const [key] = (await ctx().admin.users.show('alice')).publicKeys;
        return ctx().admin.users.removeKeys(actor, 'alice', key!.fingerprint);
      },
    },
    {
      action: 'users.keys.generate',
      run: async () => {
        const { privateKey } = await ctx().admin.users.generateKey(actor, {
          name: 'alice',
          destination: 'download',
        });
        handedOut.push(privateKey.reveal());
      },
    },
    {
      action: 'users.totp.enable',
      run: async () => {
        const { uri, recoveryCodes } = await ctx().admin.users.enableTotp(actor, 'alice');
        handedOut.push(new URL(uri.reveal()).searchParams.get('secret')!, ...recoveryCodes.reveal());
      },
    },
    { action: 'users.totp.disable', run: () => ctx().admin.users.disableTotp(actor, 'alice') },
    { action: 'users.disable', run: () => ctx().admin.users.setDisabled(actor, 'alice', true) },
    { action: 'users.enable', run: () => ctx().admin.users.setDisabled(actor, 'alice', false) },
    { action: 'users.unlock', run: () => ctx().admin.users.unlock(actor, 'alice') },
    { action: 'users.export', run: () => ctx().admin.userTransfer.export(actor) },
    {
      action: 'users.import.add',
      run: () =>
        ctx().admin.userTransfer.import(
          actor,
          JSON.stringify({ format: 'ferry-users', version: 1, users: [{ name: 'imported' }] }),
        ),
    },
    {
      action: 'users.import.update',
      run: () =>
        ctx().admin.userTransfer.import(
          actor,
          JSON.stringify({
            format: 'ferry-users',
            version: 1,
            users: [{ name: 'imported', disabled: true }],
          }),
          { update: true },
        ),
    },
    {
      action: 'groups.add',
      run: () =>
        ctx().admin.groups.add(actor, {
          name: 'bank-partners',
          homeTemplate: '/srv/partners/%username%',
          permissions: ['/in=list,upload'],
        }),
    },
    {
      action: 'groups.set',
      run: () => ctx().admin.groups.set(actor, { name: 'bank-partners', uploadRate: 1000 }),
    },
    {
      action: 'users.set',
      run: () => ctx().admin.users.set(actor, { name: 'alice', group: 'bank-partners' }),
    },
    {
      action: 'folders.add',
      run: () => ctx().admin.folders.add(actor, { name: 'reports', path: '/srv/reports', quotaBytes: 1000 }),
    },
    { action: 'folders.set', run: () => ctx().admin.folders.set(actor, { name: 'reports', quotaFiles: 10 }) },
    {
      action: 'folders.mount',
      run: () =>
        ctx().admin.folders.mount(actor, {
          owner: { kind: 'group', name: 'bank-partners' },
          folder: 'reports',
          virtualPath: '/reports',
        }),
    },
    {
      action: 'folders.mount',
      run: () =>
        ctx().admin.folders.mount(actor, {
          owner: { kind: 'user', name: 'alice' },
          folder: 'reports',
          virtualPath: '/drop',
          permissions: ['*'],
        }),
    },
    {
      action: 'folders.unmount',
      run: () =>
        ctx().admin.folders.unmount(actor, { owner: { kind: 'user', name: 'alice' }, virtualPath: '/drop' }),
    },
    { action: 'keys.host.generate', run: () => ctx().admin.keys.host.generate(actor, { type: 'ed25519' }) },
    { action: 'keys.host.generate', run: () => ctx().admin.keys.host.generate(actor, { type: 'ed25519' }) },
    {
      action: 'keys.host.import',
      run: () =>
        ctx().admin.keys.host.import(actor, {
          data: Buffer.from(exportPrivateKey(generateSshKeyPair('ecdsa', 256), 'openssh')),
        }),
    },
    { action: 'keys.host.promote', run: () => ctx().admin.keys.host.promote(actor, 2) },
    { action: 'keys.host.retire', run: () => ctx().admin.keys.host.retire(actor, 2) },
    {
      action: 'keys.host.export',
      run: async () =>
        handedOut.push((await ctx().admin.keys.host.exportPrivate(actor, { id: 1, format: 'pem' })).reveal()),
    },
    {
      action: 'keys.client.generate',
      run: () => ctx().admin.keys.client.generate(actor, 'to-acme', { type: 'ed25519' }),
    },
    {
      action: 'keys.client.import',
      run: () =>
        ctx().admin.keys.client.import(actor, 'imported', {
          data: Buffer.from(exportPrivateKey(generateSshKeyPair('ed25519'), 'openssh')),
        }),
    },
    {
      action: 'keys.client.export',
      run: async () =>
        handedOut.push(
          (await ctx().admin.keys.client.exportPrivate(actor, { name: 'to-acme', format: 'ppk' })).reveal(),
        ),
    },
    { action: 'keys.client.remove', run: () => ctx().admin.keys.client.remove(actor, 'imported') },
    {
      action: 'keys.pgp.generate',
      run: () => ctx().admin.keys.pgp.generate(actor, { name: 'vault', email: 'vault@example.com' }),
    },
    {
      action: 'keys.pgp.export',
      run: async () =>
        handedOut.push((await ctx().admin.keys.pgp.exportPrivate(actor, { name: 'vault' })).reveal()),
    },
    {
      action: 'keys.pgp.import',
      run: async () => {
        // Made past the services (no event): a key the store no longer holds, to import.
        const other = await ctx().pgpKeys.generate({ name: 'other', email: 'other@example.com' });
        await ctx().pgpKeys.remove('other');
        return ctx().admin.keys.pgp.import(actor, {
          name: 'vault-public',
          data: Buffer.from(other.publicArmored),
        });
      },
    },
    { action: 'keys.pgp.remove', run: () => ctx().admin.keys.pgp.remove(actor, 'vault-public') },
    {
      action: 'keys.x509.generate',
      run: () => ctx().admin.keys.x509.generate(actor, { name: 'api', cn: 'ferry.example', days: 30 }),
    },
    {
      action: 'keys.x509.import',
      run: () => {
        const made = generateCertificate({ cn: 'imported.example' });
        return ctx().admin.keys.x509.import(actor, {
          name: 'tls-in',
          chain: made.cert,
          key: new Secret(made.key),
        });
      },
    },
    { action: 'keys.x509.remove', run: () => ctx().admin.keys.x509.remove(actor, 'tls-in') },
    { action: 'keys.ca.add', run: () => ctx().admin.keys.ca.add(actor, caKey().publicLine, 'corp') },
    { action: 'keys.ca.revoke', run: () => ctx().admin.keys.ca.revoke(actor, { serial: '7', ca: 'corp' }) },
    {
      action: 'keys.ca.unrevoke',
      run: async () => ctx().admin.keys.ca.unrevoke(actor, (await ctx().admin.keys.ca.revocations())[0]!.id),
    },
    { action: 'keys.ca.remove', run: () => ctx().admin.keys.ca.remove(actor, 'corp') },
    {
      action: 'keys.host.certificate',
      run: async () => {
        // The host key signed by a CA the way an operator does it, outside Ferry.
        const ca = caKey();
        const caFile = join(dir(), 'host-ca');
        await writeFile(caFile, exportPrivateKey(ca, 'openssh'), { mode: 0o600 });
        await writeFile(join(dir(), 'host.pub'), await ctx().admin.keys.host.exportPublic(1));
        execFileSync('ssh-keygen', [
          '-q',
          '-s',
          caFile,
          '-h',
          '-I',
          'ferry',
          '-n',
          'localhost',
          join(dir(), 'host.pub'),
        ]);
        return ctx().admin.keys.hostCertificates.import(
          actor,
          await readFile(join(dir(), 'host-cert.pub'), 'utf8'),
        );
      },
    },
  ];
}
