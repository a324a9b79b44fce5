// The admin services' table, second slice: partners and jobs (over the accounts slice's client key), rules,
// the defender, sessions, audit, data, admins and API keys; it ends by removing the accounts slice's user, group
// and folder, last so that every row before could use them.
import assert from 'node:assert/strict';
import { RULE_SECRET_LABEL } from '../../src/admin/rules.js';
import type { AppContext } from '../../src/context.js';
import { Secret } from '../../src/util/secret.js';
import {
  type AdminRow,
  type AdminRowsHarness,
  NEW_PASSWORD,
  NEW_RULE_SECRET,
  PARTNER_PASSWORD,
  PASSWORD,
  RULE_SECRET,
} from './admin-rows-shared.js';

export function operationRows({ ctx, dir, actor, handedOut }: AdminRowsHarness): AdminRow[] {
  return [
    {
      action: 'partners.add',
      run: () =>
        ctx().admin.partners.add(actor, {
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
        ctx().admin.partners.set(actor, {
          name: 'acme',
          port: 1,
          clientKey: 'to-acme',
          password: new Secret(NEW_PASSWORD),
        }),
    },
    {
      action: 'partners.trust',
      run: () =>
        ctx().admin.partners.trust(actor, {
          name: 'acme',
          algorithm: 'ssh-ed25519',
          sha256: `SHA256:${'A'.repeat(43)}`,
        }),
    },
    {
      action: 'jobs.add',
      run: () =>
        ctx().admin.jobs.add(actor, {
          name: 'nightly',
          partner: 'acme',
          direction: 'pull',
          remoteDir: '/out',
          localDir: dir(),
          schedule: '0 2 * * *',
        }),
    },
    {
      action: 'jobs.set',
      run: () => ctx().admin.jobs.set(actor, { name: 'nightly', backoffMs: 1000, schedule: null }),
    },
    { action: 'jobs.disable', run: () => ctx().admin.jobs.setEnabled(actor, 'nightly', false) },
    { action: 'jobs.enable', run: () => ctx().admin.jobs.setEnabled(actor, 'nightly', true) },
    {
      action: 'jobs.run',
      run: async () => {
        const run = await ctx().admin.jobs.run(actor, 'nightly');
        assert.notEqual(run.status, 'ok', 'nothing listens on port 1');
      },
    },
    { action: 'jobs.remove', run: () => ctx().admin.jobs.remove(actor, 'nightly') },
    { action: 'partners.remove', run: () => ctx().admin.partners.remove(actor, 'acme') },
    {
      action: 'rules.add',
      run: () =>
        ctx().admin.rules.add(
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
        ctx().admin.rules.set(
          actor,
          'hook',
          { conditions: { paths: ['/in/**'] } },
          new Secret(NEW_RULE_SECRET),
        ),
    },
    { action: 'rules.disable', run: () => ctx().admin.rules.setEnabled(actor, 'hook', false) },
    { action: 'rules.enable', run: () => ctx().admin.rules.setEnabled(actor, 'hook', true) },
    {
      action: 'rules.import',
      run: () =>
        ctx().admin.rules.import(
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
        const hook = await ctx().admin.rules.get('hook');
        const now = new Date();
        await ctx().store.deliveries.enqueue(
          [{ id: 'd-1', ruleId: hook.id, actionIndex: 0, eventName: 'upload', fields: {} }],
          now,
        );
        await ctx().store.deliveries.claim('test', 1, now, new Date(now.getTime() + 60_000));
        const attempt = { deliveryId: 'd-1', attempt: 1, at: now, ok: false, latencyMs: 5, error: 'refused' };
        await ctx().store.deliveries.finish('d-1', 'test', attempt, { status: 'dead' });
        return ctx().admin.rules.redeliver(actor, 'd-1');
      },
    },
    { action: 'rules.remove', run: () => ctx().admin.rules.remove(actor, 'mail') },
    {
      action: 'rules.test.run',
      run: async () => {
        // Made past the services (no event): a webhook to a closed local port, so the run fails fast and offline.
        await ctx().store.rules.create(
          {
            name: 'probe',
            enabled: true,
            events: ['upload'],
            conditions: {},
            actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/hook' }],
          } as unknown as Parameters<AppContext['store']['rules']['create']>[0],
          ctx().masterKey.seal(Buffer.from(RULE_SECRET), RULE_SECRET_LABEL),
        );
        const run = await ctx().admin.rules.testRun(actor, 'probe', { path: '/in/x' });
        assert.equal(run.ran[0]?.ok, false);
      },
    },
    {
      action: 'defender.allow.add',
      run: () =>
        ctx().admin.defender.addEntry(actor, { list: 'allow', cidr: '203.0.113.0/24', note: 'office' }),
    },
    {
      action: 'defender.allow.remove',
      run: () => ctx().admin.defender.removeEntry(actor, 'allow', '203.0.113.0/24'),
    },
    {
      action: 'defender.deny.add',
      run: () => ctx().admin.defender.addEntry(actor, { list: 'deny', cidr: '198.51.100.9' }),
    },
    {
      action: 'defender.deny.remove',
      run: () => ctx().admin.defender.removeEntry(actor, 'deny', '198.51.100.9'),
    },
    {
      action: 'defender.unban',
      run: async () => {
        await ctx().store.defender.score('192.0.2.66', 1, 'test', new Date(), 60);
        return ctx().admin.defender.unban(actor, '::ffff:192.0.2.66');
      },
    },
    {
      action: 'sessions.kill',
      // The front end reaches the connection (test/api-sessions.test.ts cuts a real one); here, what it reports.
      run: () =>
        ctx().admin.sessions.kill(actor, '0123456789ab', async (id) => ({
          id,
          username: 'alice',
          remoteAddress: '192.0.2.7',
          pid: process.pid,
        })),
    },
    { action: 'audit.prune', run: () => ctx().admin.audit.prune(actor, 30) },
    {
      action: 'data.backup',
      run: () =>
        ctx().admin.data.backedUp(actor, '/backups/ferry.tar.gz', {
          masterKeyIncluded: false,
          auditHeadSeq: 1,
        }),
    },
    {
      action: 'data.restore',
      run: () =>
        ctx().admin.data.restored(actor, '/backups/ferry.tar.gz', {
          createdAt: new Date(0).toISOString(),
          sourceDataDir: null,
        }),
    },
    {
      action: 'storage.rekey',
      run: () =>
        ctx().admin.data.storageRekeyed(actor, '/var/lib/ferry/homes', {
          toKeyId: '0123456789abcdef',
          rewrapped: 3,
          alreadyCurrent: 1,
          failed: 0,
        }),
    },
    {
      action: 'admins.add',
      run: () =>
        ctx().admin.apiAccess.addAdmin(actor, {
          name: 'carol',
          role: 'auditor',
          password: new Secret(PASSWORD),
        }),
    },
    { action: 'admins.set', run: () => ctx().admin.apiAccess.setAdmin(actor, 'carol', { role: 'operator' }) },
    {
      action: 'admins.passwd',
      run: () => ctx().admin.apiAccess.passwdAdmin(actor, 'carol', new Secret(NEW_PASSWORD)),
    },
    { action: 'admins.totp.enable', run: () => ctx().admin.apiAccess.enableTotp(actor, 'carol') },
    { action: 'admins.totp.disable', run: () => ctx().admin.apiAccess.disableTotp(actor, 'carol') },
    { action: 'admins.remove', run: () => ctx().admin.apiAccess.removeAdmin(actor, 'carol') },
    {
      action: 'apikeys.add',
      run: async () => {
        const { key } = await ctx().admin.apiAccess.addKey(actor, { name: 'nightly', role: 'operator' });
        handedOut.push(key.reveal());
      },
    },
    { action: 'apikeys.remove', run: () => ctx().admin.apiAccess.removeKey(actor, 'nightly') },
    // What the accounts slice made and every row above could use, removed last.
    { action: 'users.remove', run: () => ctx().admin.users.remove(actor, 'alice') },
    { action: 'groups.remove', run: () => ctx().admin.groups.remove(actor, 'bank-partners') },
    { action: 'folders.remove', run: () => ctx().admin.folders.remove(actor, 'reports') },
  ];
}
