// Every admin service function that changes something emits exactly one admin event naming its actor, and no secret.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Actor } from '../src/admin/actor.js';
import { AdminRecorder, redactChanges } from '../src/admin/recorder.js';
import { RULE_SECRET_LABEL } from '../src/admin/rules.js';
import { iterateAudit } from '../src/audit/query.js';
import { loadConfig } from '../src/config/load.js';
import { AppContext } from '../src/context.js';
import { EventBus } from '../src/events/bus.js';
import { ADMIN_ACTIONS, type AdminAction, type AdminEvent } from '../src/events/types.js';
import { exportPrivateKey, generateSshKeyPair } from '../src/keys/private-keys.js';
import { generateCertificate } from '../src/keys/x509.js';
import { Secret } from '../src/util/secret.js';

const actor: Actor = { kind: 'api', name: 'ops-key', address: '192.0.2.9' };
const PASSWORD = 'Adm1n-S3cret-pw';
const NEW_PASSWORD = 'N3w-S3cret-pw';
const PARTNER_PASSWORD = 'Partn3r-S3cret-pw';
const RULE_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const NEW_RULE_SECRET = 'a plain shared webhook secret';

let dir: string;
let ctx: AppContext;
const events: AdminEvent[] = [];
/** Secret text handed out by the services themselves (private keys, TOTP URI and codes): never in an event. */
const handedOut: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-admin-'));
  const dataDir = join(dir, 'data');
  ctx = await AppContext.create(loadConfig({ env: {}, flags: { dataDir } }), 'create');
  ctx.events.subscribe((e) => {
    if (e.type === 'admin') events.push(e);
  });
});
after(async () => {
  await ctx?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const caKey = () => generateSshKeyPair('ed25519', undefined, 'ca');
const userKey = () => generateSshKeyPair('ed25519', undefined, 'alice@laptop').publicLine;

/** Each row: one service call, the one action it must emit. Rows run in order (later ones use earlier ones). */
const rows: { action: AdminAction; run: () => Promise<unknown> }[] = [
  { action: 'users.first-start', run: () => ctx.admin.users.ensureAdmin(actor, new Secret(PASSWORD)) },
  {
    action: 'users.add',
    run: () =>
      ctx.admin.users.add(actor, {
        name: 'alice',
        password: new Secret(PASSWORD),
        publicKeys: [userKey()],
        permissions: ['/in=list,upload'],
      }),
  },
  {
    action: 'users.set',
    run: () => ctx.admin.users.set(actor, { name: 'alice', permissions: ['/out=download'] }),
  },
  { action: 'users.passwd', run: () => ctx.admin.users.passwd(actor, 'alice', new Secret(NEW_PASSWORD)) },
  { action: 'users.keys.add', run: () => ctx.admin.users.addKeys(actor, 'alice', userKey()) },
  {
    action: 'users.keys.remove',
    run: async () => {
      const [key] = (await ctx.admin.users.show('alice')).publicKeys;
      return ctx.admin.users.removeKeys(actor, 'alice', key!.fingerprint);
    },
  },
  {
    action: 'users.keys.generate',
    run: async () => {
      const { privateKey } = await ctx.admin.users.generateKey(actor, {
        name: 'alice',
        destination: 'download',
      });
      handedOut.push(privateKey.reveal());
    },
  },
  {
    action: 'users.totp.enable',
    run: async () => {
      const { uri, recoveryCodes } = await ctx.admin.users.enableTotp(actor, 'alice');
      handedOut.push(new URL(uri.reveal()).searchParams.get('secret')!, ...recoveryCodes.reveal());
    },
  },
  { action: 'users.totp.disable', run: () => ctx.admin.users.disableTotp(actor, 'alice') },
  { action: 'users.disable', run: () => ctx.admin.users.setDisabled(actor, 'alice', true) },
  { action: 'users.enable', run: () => ctx.admin.users.setDisabled(actor, 'alice', false) },
  { action: 'users.unlock', run: () => ctx.admin.users.unlock(actor, 'alice') },
  { action: 'users.export', run: () => ctx.admin.userTransfer.export(actor) },
  {
    action: 'users.import.add',
    run: () =>
      ctx.admin.userTransfer.import(
        actor,
        JSON.stringify({ format: 'ferry-users', version: 1, users: [{ name: 'imported' }] }),
      ),
  },
  {
    action: 'users.import.update',
    run: () =>
      ctx.admin.userTransfer.import(
        actor,
        JSON.stringify({ format: 'ferry-users', version: 1, users: [{ name: 'imported', disabled: true }] }),
        { update: true },
      ),
  },
  {
    action: 'groups.add',
    run: () =>
      ctx.admin.groups.add(actor, {
        name: 'bank-partners',
        homeTemplate: '/srv/partners/%username%',
        permissions: ['/in=list,upload'],
      }),
  },
  {
    action: 'groups.set',
    run: () => ctx.admin.groups.set(actor, { name: 'bank-partners', uploadRate: 1000 }),
  },
  { action: 'users.set', run: () => ctx.admin.users.set(actor, { name: 'alice', group: 'bank-partners' }) },
  {
    action: 'folders.add',
    run: () => ctx.admin.folders.add(actor, { name: 'reports', path: '/srv/reports', quotaBytes: 1000 }),
  },
  { action: 'folders.set', run: () => ctx.admin.folders.set(actor, { name: 'reports', quotaFiles: 10 }) },
  {
    action: 'folders.mount',
    run: () =>
      ctx.admin.folders.mount(actor, {
        owner: { kind: 'group', name: 'bank-partners' },
        folder: 'reports',
        virtualPath: '/reports',
      }),
  },
  {
    action: 'folders.mount',
    run: () =>
      ctx.admin.folders.mount(actor, {
        owner: { kind: 'user', name: 'alice' },
        folder: 'reports',
        virtualPath: '/drop',
        permissions: ['*'],
      }),
  },
  {
    action: 'folders.unmount',
    run: () =>
      ctx.admin.folders.unmount(actor, { owner: { kind: 'user', name: 'alice' }, virtualPath: '/drop' }),
  },
  { action: 'keys.host.generate', run: () => ctx.admin.keys.host.generate(actor, { type: 'ed25519' }) },
  { action: 'keys.host.generate', run: () => ctx.admin.keys.host.generate(actor, { type: 'ed25519' }) },
  {
    action: 'keys.host.import',
    run: () =>
      ctx.admin.keys.host.import(actor, {
        data: Buffer.from(exportPrivateKey(generateSshKeyPair('ecdsa', 256), 'openssh')),
      }),
  },
  { action: 'keys.host.promote', run: () => ctx.admin.keys.host.promote(actor, 2) },
  { action: 'keys.host.retire', run: () => ctx.admin.keys.host.retire(actor, 2) },
  {
    action: 'keys.host.export',
    run: async () =>
      handedOut.push((await ctx.admin.keys.host.exportPrivate(actor, { id: 1, format: 'pem' })).reveal()),
  },
  {
    action: 'keys.client.generate',
    run: () => ctx.admin.keys.client.generate(actor, 'to-acme', { type: 'ed25519' }),
  },
  {
    action: 'keys.client.import',
    run: () =>
      ctx.admin.keys.client.import(actor, 'imported', {
        data: Buffer.from(exportPrivateKey(generateSshKeyPair('ed25519'), 'openssh')),
      }),
  },
  {
    action: 'keys.client.export',
    run: async () =>
      handedOut.push(
        (await ctx.admin.keys.client.exportPrivate(actor, { name: 'to-acme', format: 'ppk' })).reveal(),
      ),
  },
  { action: 'keys.client.remove', run: () => ctx.admin.keys.client.remove(actor, 'imported') },
  {
    action: 'keys.pgp.generate',
    run: () => ctx.admin.keys.pgp.generate(actor, { name: 'vault', email: 'vault@example.com' }),
  },
  {
    action: 'keys.pgp.export',
    run: async () =>
      handedOut.push((await ctx.admin.keys.pgp.exportPrivate(actor, { name: 'vault' })).reveal()),
  },
  {
    action: 'keys.pgp.import',
    run: async () => {
      // Made past the services (no event): a key the store no longer holds, to import.
      const other = await ctx.pgpKeys.generate({ name: 'other', email: 'other@example.com' });
      await ctx.pgpKeys.remove('other');
      return ctx.admin.keys.pgp.import(actor, {
        name: 'vault-public',
        data: Buffer.from(other.publicArmored),
      });
    },
  },
  { action: 'keys.pgp.remove', run: () => ctx.admin.keys.pgp.remove(actor, 'vault-public') },
  {
    action: 'keys.x509.generate',
    run: () => ctx.admin.keys.x509.generate(actor, { name: 'api', cn: 'ferry.example', days: 30 }),
  },
  {
    action: 'keys.x509.import',
    run: () => {
      const made = generateCertificate({ cn: 'imported.example' });
      return ctx.admin.keys.x509.import(actor, {
        name: 'tls-in',
        chain: made.cert,
        key: new Secret(made.key),
      });
    },
  },
  { action: 'keys.x509.remove', run: () => ctx.admin.keys.x509.remove(actor, 'tls-in') },
  { action: 'keys.ca.add', run: () => ctx.admin.keys.ca.add(actor, caKey().publicLine, 'corp') },
  { action: 'keys.ca.revoke', run: () => ctx.admin.keys.ca.revoke(actor, { serial: '7', ca: 'corp' }) },
  {
    action: 'keys.ca.unrevoke',
    run: async () => ctx.admin.keys.ca.unrevoke(actor, (await ctx.admin.keys.ca.revocations())[0]!.id),
  },
  { action: 'keys.ca.remove', run: () => ctx.admin.keys.ca.remove(actor, 'corp') },
  {
    action: 'keys.host.certificate',
    run: async () => {
      // The host key signed by a CA the way an operator does it, outside Ferry.
      const ca = caKey();
      const caFile = join(dir, 'host-ca');
      await writeFile(caFile, exportPrivateKey(ca, 'openssh'), { mode: 0o600 });
      await writeFile(join(dir, 'host.pub'), await ctx.admin.keys.host.exportPublic(1));
      execFileSync('ssh-keygen', [
        '-q',
        '-s',
        caFile,
        '-h',
        '-I',
        'ferry',
        '-n',
        'localhost',
        join(dir, 'host.pub'),
      ]);
      return ctx.admin.keys.hostCertificates.import(
        actor,
        await readFile(join(dir, 'host-cert.pub'), 'utf8'),
      );
    },
  },
  {
    action: 'partners.add',
    run: () =>
      ctx.admin.partners.add(actor, {
        name: 'acme',
        host: '127.0.0.1',
        port: 9,
        user: 'ferry',
        password: new Secret(PARTNER_PASSWORD),
      }),
  },
  {
    action: 'partners.set',
    run: () =>
      ctx.admin.partners.set(actor, {
        name: 'acme',
        port: 1,
        clientKey: 'to-acme',
        password: new Secret(NEW_PASSWORD),
      }),
  },
  {
    action: 'partners.trust',
    run: () =>
      ctx.admin.partners.trust(actor, {
        name: 'acme',
        algorithm: 'ssh-ed25519',
        sha256: `SHA256:${'A'.repeat(43)}`,
      }),
  },
  {
    action: 'jobs.add',
    run: () =>
      ctx.admin.jobs.add(actor, {
        name: 'nightly',
        partner: 'acme',
        direction: 'pull',
        remoteDir: '/out',
        localDir: dir,
        schedule: '0 2 * * *',
      }),
  },
  {
    action: 'jobs.set',
    run: () => ctx.admin.jobs.set(actor, { name: 'nightly', backoffMs: 1000, schedule: null }),
  },
  { action: 'jobs.disable', run: () => ctx.admin.jobs.setEnabled(actor, 'nightly', false) },
  { action: 'jobs.enable', run: () => ctx.admin.jobs.setEnabled(actor, 'nightly', true) },
  {
    action: 'jobs.run',
    run: async () => {
      const run = await ctx.admin.jobs.run(actor, 'nightly');
      assert.notEqual(run.status, 'ok', 'nothing listens on port 1');
    },
  },
  { action: 'jobs.remove', run: () => ctx.admin.jobs.remove(actor, 'nightly') },
  { action: 'partners.remove', run: () => ctx.admin.partners.remove(actor, 'acme') },
  {
    action: 'rules.add',
    run: () =>
      ctx.admin.rules.add(
        actor,
        {
          name: 'hook',
          events: ['upload'],
          actions: [{ kind: 'webhook', url: 'https://hooks.example.com/ferry' }],
        },
        new Secret(RULE_SECRET),
      ),
  },
  {
    action: 'rules.set',
    run: () =>
      ctx.admin.rules.set(actor, 'hook', { conditions: { paths: ['/in/**'] } }, new Secret(NEW_RULE_SECRET)),
  },
  { action: 'rules.disable', run: () => ctx.admin.rules.setEnabled(actor, 'hook', false) },
  { action: 'rules.enable', run: () => ctx.admin.rules.setEnabled(actor, 'hook', true) },
  {
    action: 'rules.import',
    run: () =>
      ctx.admin.rules.import(
        actor,
        JSON.stringify([
          { name: 'mail', events: ['job-failed'], actions: [{ kind: 'email', to: ['ops@example.com'] }] },
        ]),
        { format: 'json', source: 'rules.json' },
      ),
  },
  {
    action: 'rules.redeliver',
    run: async () => {
      const hook = await ctx.admin.rules.get('hook');
      const now = new Date();
      await ctx.store.deliveries.enqueue(
        [{ id: 'd-1', ruleId: hook.id, actionIndex: 0, eventName: 'upload', fields: {} }],
        now,
      );
      await ctx.store.deliveries.claim('test', 1, now, new Date(now.getTime() + 60_000));
      const attempt = { deliveryId: 'd-1', attempt: 1, at: now, ok: false, latencyMs: 5, error: 'refused' };
      await ctx.store.deliveries.finish('d-1', 'test', attempt, { status: 'dead' });
      return ctx.admin.rules.redeliver(actor, 'd-1');
    },
  },
  { action: 'rules.remove', run: () => ctx.admin.rules.remove(actor, 'mail') },
  {
    action: 'rules.test.run',
    run: async () => {
      // Made past the services (no event): a webhook to a closed local port, so the run fails fast and offline.
      await ctx.store.rules.create(
        {
          name: 'probe',
          enabled: true,
          events: ['upload'],
          conditions: {},
          actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/hook' }],
        } as unknown as Parameters<typeof ctx.store.rules.create>[0],
        ctx.masterKey.seal(Buffer.from(RULE_SECRET), RULE_SECRET_LABEL),
      );
      const run = await ctx.admin.rules.testRun(actor, 'probe', { path: '/in/x' });
      assert.equal(run.ran[0]?.ok, false);
    },
  },
  {
    action: 'defender.allow.add',
    run: () => ctx.admin.defender.addEntry(actor, { list: 'allow', cidr: '203.0.113.0/24', note: 'office' }),
  },
  {
    action: 'defender.allow.remove',
    run: () => ctx.admin.defender.removeEntry(actor, 'allow', '203.0.113.0/24'),
  },
  {
    action: 'defender.deny.add',
    run: () => ctx.admin.defender.addEntry(actor, { list: 'deny', cidr: '198.51.100.9' }),
  },
  {
    action: 'defender.deny.remove',
    run: () => ctx.admin.defender.removeEntry(actor, 'deny', '198.51.100.9'),
  },
  {
    action: 'defender.unban',
    run: async () => {
      await ctx.store.defender.score('192.0.2.66', 1, 'test', new Date(), 60);
      return ctx.admin.defender.unban(actor, '::ffff:192.0.2.66');
    },
  },
  {
    action: 'sessions.kill',
    // The front end reaches the connection (test/api-sessions.test.ts cuts a real one); here, what it reports.
    run: () =>
      ctx.admin.sessions.kill(actor, '0123456789ab', async (id) => ({
        id,
        username: 'alice',
        remoteAddress: '192.0.2.7',
        pid: process.pid,
      })),
  },
  { action: 'audit.prune', run: () => ctx.admin.audit.prune(actor, 30) },
  {
    action: 'data.backup',
    run: () =>
      ctx.admin.data.backedUp(actor, '/backups/ferry.tar.gz', { masterKeyIncluded: false, auditHeadSeq: 1 }),
  },
  {
    action: 'data.restore',
    run: () =>
      ctx.admin.data.restored(actor, '/backups/ferry.tar.gz', {
        createdAt: new Date(0).toISOString(),
        sourceDataDir: null,
      }),
  },
  {
    action: 'storage.rekey',
    run: () =>
      ctx.admin.data.storageRekeyed(actor, '/var/lib/ferry/homes', {
        toKeyId: '0123456789abcdef',
        rewrapped: 3,
        alreadyCurrent: 1,
        failed: 0,
      }),
  },
  {
    action: 'admins.add',
    run: () =>
      ctx.admin.apiAccess.addAdmin(actor, { name: 'carol', role: 'auditor', password: new Secret(PASSWORD) }),
  },
  { action: 'admins.set', run: () => ctx.admin.apiAccess.setAdmin(actor, 'carol', { role: 'operator' }) },
  {
    action: 'admins.passwd',
    run: () => ctx.admin.apiAccess.passwdAdmin(actor, 'carol', new Secret(NEW_PASSWORD)),
  },
  { action: 'admins.totp.enable', run: () => ctx.admin.apiAccess.enableTotp(actor, 'carol') },
  { action: 'admins.totp.disable', run: () => ctx.admin.apiAccess.disableTotp(actor, 'carol') },
  { action: 'admins.remove', run: () => ctx.admin.apiAccess.removeAdmin(actor, 'carol') },
  {
    action: 'apikeys.add',
    run: async () => {
      const { key } = await ctx.admin.apiAccess.addKey(actor, { name: 'nightly', role: 'operator' });
      handedOut.push(key.reveal());
    },
  },
  { action: 'apikeys.remove', run: () => ctx.admin.apiAccess.removeKey(actor, 'nightly') },
  { action: 'users.remove', run: () => ctx.admin.users.remove(actor, 'alice') },
  { action: 'groups.remove', run: () => ctx.admin.groups.remove(actor, 'bank-partners') },
  { action: 'folders.remove', run: () => ctx.admin.folders.remove(actor, 'reports') },
];

describe('admin services', () => {
  for (const [i, row] of rows.entries()) {
    test(`${row.action} (#${i + 1}) emits one admin event with its actor and no secret`, async () => {
      const before = events.length;
      await row.run();
      assert.equal(events.length, before + 1, 'exactly one admin event');
      const event = events.at(-1)!;
      assert.equal(event.action, row.action);
      assert.deepEqual(event.actor, actor);
      const json = JSON.stringify(event);
      for (const secret of [
        PASSWORD,
        NEW_PASSWORD,
        PARTNER_PASSWORD,
        RULE_SECRET,
        NEW_RULE_SECRET,
        ...handedOut,
      ]) {
        assert.ok(!json.includes(secret), `no secret in ${json}`);
      }
      assert.doesNotMatch(json, /PRIVATE KEY|argon2|otpauth/);
    });
  }

  test('every action of the catalogue a front end can ask for is in the table', () => {
    const system: AdminAction[] = ['keys.host.first-start', 'keys.host.promote-due'];
    const covered = new Set(rows.map((r) => r.action));
    const missing = (Object.keys(ADMIN_ACTIONS) as AdminAction[]).filter(
      (a) => !covered.has(a) && !system.includes(a),
    );
    assert.deepEqual(missing, []);
  });

  test('read-only calls emit nothing; the trail holds each change as an admin record of its actor', async () => {
    const before = events.length;
    await ctx.admin.users.list();
    await ctx.admin.keys.host.list();
    await ctx.admin.keys.host.exportPublic(1);
    await ctx.admin.partners.list();
    await ctx.admin.jobs.list();
    await ctx.admin.rules.list();
    await ctx.admin.rules.get('hook');
    await ctx.admin.rules.deliveries({ failed: true });
    await ctx.admin.defender.list();
    for await (const _ of ctx.admin.audit.query({ actions: ['admin'] }));
    assert.equal((await ctx.admin.audit.verify()).ok, true);
    assert.equal(events.length, before);

    await ctx.audit.flush();
    const records = [];
    for await (const r of iterateAudit(ctx.store.audit, { actions: ['admin'] })) records.push(r);
    // audit.prune is recorded by the prune's own signed retention record, not by a second one.
    assert.equal(records.length, rows.length - 1);
    for (const r of records) {
      assert.equal(r.user, 'ops-key');
      assert.equal(r.protocol, 'api');
      assert.equal(r.address, '192.0.2.9');
    }
    const commands = records.map((r) => (JSON.parse(r.detail) as { command: string }).command);
    assert.ok(commands.includes('users keys add'));
    assert.ok(commands.includes('serve (first start)'));
    assert.ok(!records.some((r) => handedOut.some((s) => r.detail.includes(s))));
  });
});

describe('admin recorder', () => {
  test('a change whose audit record cannot be committed fails (emit itself never rejects)', async () => {
    const bus = new EventBus();
    const recorder = new AdminRecorder(bus, {
      committed: () => Promise.reject(new Error('audit store is full')),
    });
    await assert.rejects(recorder.record(actor, 'users.unlock', 'alice'), /audit store is full/);
  });

  test('a secret or private key that slipped into a diff is replaced', () => {
    const pem = exportPrivateKey(generateSshKeyPair('ed25519'), 'openssh');
    assert.deepEqual(
      redactChanges({
        password: new Secret('x'),
        nested: [{ key: pem }],
        uri: 'otpauth://totp/a?secret=S',
        n: 1,
      }),
      { password: '(set)', nested: [{ key: '(redacted)' }], uri: '(redacted)', n: 1 },
    );
  });
});

describe('front ends', () => {
  test('no CLI command writes audit records itself: they call admin services', async () => {
    const cliDir = join(import.meta.dirname, '..', 'src', 'cli');
    for (const name of await readdir(cliDir)) {
      if (!name.endsWith('.ts')) continue;
      const text = await readFile(join(cliDir, name), 'utf8');
      assert.ok(!text.includes('recordAdmin'), `${name} calls recordAdmin`);
    }
  });
});
