// Rules on what the server itself notices: a scheduled retention sweep, a partner's changed host key, a key
// about to expire — each in a running Ferry, the deliveries read back from its store.
import assert from 'node:assert/strict';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DeliveryRecord, RuleDefinition } from '../src/store/types.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;

before(async () => {
  server = await startTestServer();
  await server.addUser('acme', { password: 'acme-password-1' });
});
after(() => server?.close());

async function addRule(rule: Omit<RuleDefinition, 'enabled'>): Promise<void> {
  await server.running.context.store.rules.create({ enabled: true, ...rule });
  await server.running.automation.refresh();
}

async function deliveriesOf(rule: string, done: (d: DeliveryRecord[]) => boolean): Promise<DeliveryRecord[]> {
  const end = Date.now() + 20_000;
  for (;;) {
    const list = await server.running.context.store.deliveries.list({ rule });
    if (done(list)) return list;
    if (Date.now() > end)
      throw new Error(`deliveries of ${rule}: ${JSON.stringify(list.map((d) => d.status))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a scheduled retention rule removes the aged files through the core, keeps the young ones; dry run removes none', async () => {
  const home = await server.homeOf('acme');
  const inbound = join(home, 'inbound');
  await mkdir(inbound, { recursive: true });
  const old = (Date.now() - 40 * 86_400_000) / 1000;
  for (const name of ['old-1.csv', 'old-2.csv', 'young.csv']) await writeFile(join(inbound, name), name);
  for (const name of ['old-1.csv', 'old-2.csv']) await utimes(join(inbound, name), old, old);

  // Every second (croner's six-field form), so the test needs no clock of its own.
  const sweep = { kind: 'retention', user: 'acme', path: '/inbound', olderThanDays: 30 } as const;
  await addRule({
    name: 'dry-sweep',
    events: ['schedule'],
    schedule: '* * * * * *',
    conditions: {},
    actions: [{ ...sweep, dryRun: true }],
  });
  const dry = (await deliveriesOf('dry-sweep', (l) => l.some((d) => d.status === 'succeeded'))).find(
    (d) => d.status === 'succeeded',
  );
  const [dryAttempt] = await server.running.context.store.deliveries.attempts(dry?.id ?? '');
  assert.match(dryAttempt?.output ?? '', /old-1\.csv/);
  assert.deepEqual((await readdir(inbound)).sort(), ['old-1.csv', 'old-2.csv', 'young.csv']);
  await server.running.context.store.rules.remove('dry-sweep');

  // The sweep's report is an event of its own: a rule mails (here: posts) it.
  await addRule({
    name: 'sweep-report',
    events: ['retention-swept'],
    conditions: { paths: ['/inbound'] },
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/unused' }],
  });
  await addRule({
    name: 'sweep',
    events: ['schedule'],
    schedule: '* * * * * *',
    conditions: {},
    actions: [sweep],
  });
  await deliveriesOf('sweep', (l) => l.some((d) => d.status === 'succeeded'));
  assert.deepEqual(await readdir(inbound), ['young.csv']);
  const reports = await deliveriesOf('sweep-report', (l) =>
    l.some((d) => /removed 2 files/.test(d.fields.reason ?? '')),
  );
  const report = reports.find((d) => /removed 2 files/.test(d.fields.reason ?? ''));
  assert.match(report?.fields.reason ?? '', /^removed 2 files \(18 bytes\) under \/inbound, kept 1\n/);
  assert.match(report?.fields.reason ?? '', /old-1\.csv/);
  assert.equal(report?.fields.subject, 'sweep');
  assert.equal(report?.fields.user, 'acme');
  await server.running.context.store.rules.remove('sweep-report');
  await server.running.context.store.rules.remove('sweep');
  await server.running.automation.refresh();
});

test('a job failing on a changed host key fires job-failed and partner-key-changed rules', async () => {
  const action = { kind: 'webhook', url: 'http://127.0.0.1:9/unused' } as const;
  await addRule({
    name: 'on-key-change',
    events: ['partner-key-changed'],
    conditions: {},
    actions: [action],
  });
  await addRule({ name: 'on-job-failed', events: ['job-failed'], conditions: {}, actions: [action] });
  const job = {
    type: 'job',
    phase: 'failed',
    at: new Date(),
    sessionId: 'job:acme-push:7',
    job: 'acme-push',
    run: 7,
    partner: 'acme',
    direction: 'push',
    trigger: 'schedule',
  } as const;
  await server.running.context.events.emit({ ...job, errorCode: 'ERR_HOST_KEY_CHANGED', error: 'changed' });
  await server.running.context.events.emit({
    ...job,
    run: 8,
    errorCode: 'ERR_PARTNER_UNREACHABLE',
    error: 'down',
  });
  const keyChanged = await deliveriesOf('on-key-change', (l) => l.length >= 1);
  const failed = await deliveriesOf('on-job-failed', (l) => l.length >= 2);
  assert.equal(keyChanged.length, 1, 'only the run that failed on the host key');
  assert.equal(keyChanged[0]?.fields.partner, 'acme');
  assert.equal(keyChanged[0]?.fields.run, '7');
  assert.equal(failed.length, 2);
  for (const name of ['on-key-change', 'on-job-failed'])
    await server.running.context.store.rules.remove(name);
});

test('a key expiring is one delivery per rule action however many processes report it that day', async () => {
  const action = { kind: 'webhook', url: 'http://127.0.0.1:9/unused' } as const;
  await addRule({ name: 'on-expiry', events: ['key-expiring'], conditions: {}, actions: [action] });
  const event = {
    type: 'system',
    phase: 'key-expiring',
    at: new Date(),
    sessionId: '',
    keyKind: 'pgp',
    keyName: 'bank',
    fingerprint: 'A'.repeat(40),
    expiresAt: new Date(Date.now() + 5 * 86_400_000),
    daysLeft: 5,
  } as const;
  // What two worker processes (or one checking twice in a day) would emit.
  await server.running.context.events.emit(event);
  await server.running.context.events.emit({ ...event, at: new Date() });
  const list = await deliveriesOf('on-expiry', (l) => l.length >= 1);
  await new Promise((r) => setTimeout(r, 300));
  const again = await server.running.context.store.deliveries.list({ rule: 'on-expiry' });
  assert.equal(again.length, 1, `deliveries: ${again.map((d) => d.id).join(', ')}`);
  assert.match(list[0]?.fields.subject ?? '', /pgp key bank \(A{40}\)/);
  assert.equal(list[0]?.fields.reason, 'expires in 5 days');
  await server.running.context.store.rules.remove('on-expiry');
});
