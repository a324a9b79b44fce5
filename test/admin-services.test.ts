// Every admin service function that changes something emits exactly one admin event naming its actor, and no secret.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Actor } from '../src/admin/actor.js';
import { AdminRecorder, redactChanges } from '../src/admin/recorder.js';
import { iterateAudit } from '../src/audit/query.js';
import { loadConfig } from '../src/config/load.js';
import { AppContext } from '../src/context.js';
import { EventBus } from '../src/events/bus.js';
import { ADMIN_ACTIONS, type AdminAction, type AdminEvent } from '../src/events/types.js';
import { exportPrivateKey, generateSshKeyPair } from '../src/keys/private-keys.js';
import { Secret } from '../src/util/secret.js';
import { accountRows } from './helpers/admin-rows-accounts.js';
import { operationRows } from './helpers/admin-rows-operations.js';
import {
  type AdminRow,
  NEW_PASSWORD,
  NEW_RULE_SECRET,
  PARTNER_PASSWORD,
  PASSWORD,
  RULE_SECRET,
} from './helpers/admin-rows-shared.js';

const actor: Actor = { kind: 'api', name: 'ops-key', address: '192.0.2.9' };

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

/**
 * The table of rows in two consecutive slices (test/helpers/admin-rows-*.ts), concatenated in the one order they
 * must run in: the operations slice uses what the accounts slice made, and ends by removing it.
 */
const harness = { ctx: () => ctx, dir: () => dir, actor, handedOut };
const rows: AdminRow[] = [...accountRows(harness), ...operationRows(harness)];

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
