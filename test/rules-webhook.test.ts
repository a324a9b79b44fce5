// Webhook rules end to end: an OpenSSH sftp upload into a real Ferry fires a signed webhook at a real HTTP receiver.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RULE_SECRET_LABEL } from '../src/automation/index.js';
import type { DeliveryRecord, RuleDefinition } from '../src/store/types.js';
import { sha256File } from './helpers/files.js';
import { sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

// Short retries for this process's worker (read when the server starts): 100 ms doubling.
process.env.FERRY_RULES_RETRY_BASE_MS = '100';

const PASSWORD = 'rules-webhook-password';
let server: TestServer;
let work: string;
const receivers: WebhookReceiver[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-rules-'));
  server = await startTestServer();
  await server.addUser('alice', { password: PASSWORD });
  await mkdir(join(await server.homeOf('alice'), 'in'), { recursive: true });
  await mkdir(join(await server.homeOf('alice'), 'fail'), { recursive: true });
});

after(async () => {
  await server?.close();
  for (const r of receivers) await r.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function addWebhookRule(name: string, url: string, secret: string, extra: Partial<RuleDefinition>) {
  const ctx = server.running.context;
  await ctx.store.rules.create(
    {
      name,
      enabled: true,
      events: ['upload'],
      conditions: { status: 'ok' },
      actions: [{ kind: 'webhook', url, timeout: 5 }],
      ...extra,
    },
    ctx.masterKey.seal(Buffer.from(secret, 'utf8'), RULE_SECRET_LABEL),
  );
  // The CLI's change is seen within a second; this process need not wait for that.
  await server.running.automation.refresh();
}

async function put(local: string, remote: string): Promise<void> {
  const r = await sftpBatch({
    port: server.port,
    user: 'alice',
    password: PASSWORD,
    batch: `put ${local} ${remote}\n`,
    cwd: work,
  });
  assert.equal(r.code, 0, r.stderr);
}

async function settled(rule: string, status: DeliveryRecord['status']): Promise<DeliveryRecord> {
  const end = Date.now() + 30_000;
  for (;;) {
    const [d] = await server.running.context.store.deliveries.list({ rule });
    if (d?.status === status) return d;
    if (Date.now() > end) throw new Error(`delivery of ${rule} is ${d?.status ?? 'missing'}, not ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until /metrics counts these delivery attempts by outcome (ferry_event_deliveries_total): the worker
 * counts an attempt right after its outcome is stored, which a poll of the store may see a moment earlier.
 */
async function expectDeliveryCounts(expected: Record<string, number>): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    const text = await (await fetch(`http://127.0.0.1:${server.running.httpPort}/metrics`)).text();
    const counts: Record<string, number> = {};
    for (const m of text.matchAll(/^ferry_event_deliveries_total\{outcome="(\w+)"\} (\d+)$/gm))
      counts[m[1]!] = Number(m[2]);
    if (Date.now() > end || JSON.stringify(counts) === JSON.stringify(expected)) {
      assert.deepEqual(counts, expected, 'the metrics count each attempt by outcome');
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('an upload fires a signed webhook; two 500s are retried and the third attempt is delivered', async () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const receiver = await startWebhookReceiver(secret, (n) => (n <= 2 ? 500 : 200));
  receivers.push(receiver);
  await addWebhookRule('erp-inbound', receiver.url, secret, {
    conditions: { paths: ['/in/**'], status: 'ok' },
  });
  await writeFile(join(work, 'report.csv'), 'id,amount\n1,100\n');
  await put('report.csv', '/in/report.csv');
  // The outbox row was committed before CLOSE was acknowledged: it exists the moment sftp returns.
  const [queued] = await server.running.context.store.deliveries.list({ rule: 'erp-inbound' });
  assert.ok(queued, 'the delivery is stored before the upload is acknowledged');

  const delivered = await settled('erp-inbound', 'succeeded');
  assert.equal(receiver.received.length, 3);
  assert.ok(
    receiver.received.every((r) => r.verified),
    'every attempt verifies with an independent implementation',
  );
  assert.deepEqual(
    receiver.received.map((r) => r.id),
    [delivered.id, delivered.id, delivered.id],
    'one idempotency id across retries',
  );
  const body = receiver.received[2]?.body;
  assert.equal(body?.type, 'upload');
  assert.equal(body?.data.path, '/in/report.csv');
  assert.equal(body?.data.name, 'report.csv');
  assert.equal(body?.data.user, 'alice');
  assert.equal(body?.data.size, '16');
  assert.equal(body?.data.status, 'ok');
  assert.equal(body?.data.sha256, await sha256File(join(work, 'report.csv')));
  const attempts = await server.running.context.store.deliveries.attempts(delivered.id);
  assert.deepEqual(
    attempts.map((a) => [a.attempt, a.ok, a.responseCode]),
    [
      [1, false, 500],
      [2, false, 500],
      [3, true, 200],
    ],
  );
  assert.equal(attempts[2]?.output, 'received');
  await expectDeliveryCounts({ retry: 2, succeeded: 1 });
});

test('a receiver that always answers 500 leaves the delivery dead after maxAttempts', async () => {
  const secret = 'a plain secret, used as its UTF-8 bytes';
  const receiver = await startWebhookReceiver(secret, () => 500);
  receivers.push(receiver);
  await addWebhookRule('always-down', receiver.url, secret, {
    conditions: { paths: ['/fail/*'] },
    maxAttempts: 4,
  });
  await writeFile(join(work, 'x.bin'), randomBytes(1000));
  await put('x.bin', '/fail/x.bin');
  const dead = await settled('always-down', 'dead');
  assert.equal(dead.attempts, 4);
  assert.equal(dead.lastError, 'HTTP 500');
  assert.equal(receiver.received.length, 4);
  assert.ok(receiver.received.every((r) => r.verified && r.id === dead.id));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(receiver.received.length, 4, 'nothing after the dead letter');
  await expectDeliveryCounts({ retry: 5, succeeded: 1, dead: 1 });
  const failed = await server.running.context.store.deliveries.list({ failed: true });
  assert.deepEqual(
    failed.map((d) => d.ruleName),
    ['always-down'],
  );
});
