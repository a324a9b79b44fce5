// /api/rules and /api/deliveries on a real server: an OpenSSH upload fires a rule defined over HTTP at a real
// webhook receiver; roles, bad input and secrets attacked route by route.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { sftpBatch } from './helpers/openssh.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

// Short retries for this process's delivery worker (read when the server starts).
process.env.FERRY_RULES_RETRY_BASE_MS = '100';

const SECRET = 'whsec-api-rules-test-secret-value-0123456789';
const NEW_SECRET = 'whsec-api-rules-second-secret-abcdefghij';
const PASSWORD = 'api-rules-password';
let api: ApiTestServer;
let work: string;
let receiver: WebhookReceiver;
let keys: ApiTestServer['keys'];
const call: ApiTestServer['call'] = (...args) => api.call(...args);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-api-rules-'));
  // The receiver refuses everything: the delivery goes dead, so it can be redelivered.
  receiver = await startWebhookReceiver(SECRET, () => 503);
  api = await startApiTestServer();
  keys = api.keys;
  await api.server.addUser('alice', { password: PASSWORD });
  await mkdir(join(await api.server.homeOf('alice'), 'in'), { recursive: true });
});

after(async () => {
  await api?.close();
  await receiver?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const ruleNames = async () =>
  (await call('GET', '/api/rules', { key: keys.admin })).body.items.map((r: { name: string }) => r.name);

describe('REST API rules and deliveries', () => {
  test('bad input and the wrong role: one-line problems, nothing defined', async () => {
    const rule = {
      name: 'hook',
      events: ['upload'],
      actions: [{ kind: 'webhook', url: receiver.url }],
    };
    // A webhook without its signing secret, an unknown event, an unknown action kind, an unknown field.
    for (const [body, detail] of [
      [rule, /signing secret/],
      [{ ...rule, secret: SECRET, events: ['uploaded'] }, /unknown event 'uploaded'/],
      [{ ...rule, secret: SECRET, actions: [{ kind: 'teleport' }] }, /must be one of webhook/],
      [{ ...rule, secret: SECRET, colour: 'red' }, /colour/],
      [{ ...rule, secret: SECRET, actions: [{ kind: 'webhook', url: 'ftp://x' }] }, /http/],
    ] as const) {
      const reply = await call('POST', '/api/rules', { key: keys.admin, body });
      assertProblem(reply, 400, 'ERR_INVALID_ARGUMENT');
      assert.match(reply.body.detail, detail);
      assert.doesNotMatch(reply.body.detail, /\n/);
      assert.equal(JSON.stringify(reply.body).includes(SECRET), false);
    }
    // Defining rules is the admin's: a command action runs a program as the server.
    assertProblem(
      await call('POST', '/api/rules', { key: keys.operator, body: { ...rule, secret: SECRET } }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(await call('GET', '/api/rules', { key: keys.auditor }), 403, 'ERR_PERMISSION_DENIED');
    assertProblem(await call('GET', '/api/rules'), 401, 'ERR_UNAUTHENTICATED');
    assert.deepEqual(await ruleNames(), []);
    assertProblem(await call('GET', '/api/rules/nothing', { key: keys.operator }), 404, 'ERR_NOT_FOUND');
    assertProblem(
      await call('PATCH', '/api/rules/nothing', { key: keys.admin, body: { maxAttempts: 2 } }),
      404,
      'ERR_NOT_FOUND',
    );
  });

  test('define, change, dry-run, disable a webhook rule; the secret never comes back; every change audited', async () => {
    const added = await call('POST', '/api/rules', {
      key: keys.admin,
      body: {
        name: 'partner-in',
        events: ['upload'],
        conditions: { paths: ['/in/**'], status: 'ok' },
        actions: [{ kind: 'webhook', url: receiver.url, timeout: 5 }],
        maxAttempts: 1,
        secret: SECRET,
      },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.headers.get('location'), '/api/rules/partner-in');
    assert.equal(added.body.secret, '(set)');
    assertProblem(
      await call('POST', '/api/rules', {
        key: keys.admin,
        body: { name: 'partner-in', events: ['upload'], actions: [{ kind: 'delete' }] },
      }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    const shown = await call('GET', '/api/rules/partner-in', { key: keys.operator });
    assert.deepEqual(shown.body.conditions, { paths: ['/in/**'], status: 'ok' });

    // A change that would remove the webhook's secret is refused whole.
    const refused = await call('PATCH', '/api/rules/partner-in', {
      key: keys.admin,
      body: { maxAttempts: 3, secret: null },
    });
    assertProblem(refused, 400, 'ERR_INVALID_ARGUMENT');
    assert.equal((await call('GET', '/api/rules/partner-in', { key: keys.admin })).body.maxAttempts, 1);
    assertProblem(
      await call('PATCH', '/api/rules/partner-in', { key: keys.operator, body: { maxAttempts: 3 } }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    const changed = await call('PATCH', '/api/rules/partner-in', {
      key: keys.admin,
      body: { conditions: { users: ['alice'] }, secret: NEW_SECRET },
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual(changed.body.changed.sort(), ['conditions', 'secret']);
    assert.deepEqual(changed.body.rule.conditions, { paths: ['/in/**'], status: 'ok', users: ['alice'] });
    // Back to the first secret, which the receiver checks signatures with.
    await call('PATCH', '/api/rules/partner-in', { key: keys.admin, body: { secret: SECRET } });

    const fires = await call('POST', '/api/rules/partner-in/test', {
      key: keys.operator,
      body: { user: 'alice', path: '/in/a.csv', size: 10 },
    });
    assert.equal(fires.status, 200, JSON.stringify(fires.body));
    assert.equal(fires.body.fires, true);
    assert.deepEqual(fires.body.wouldRun, [{ kind: 'webhook', url: receiver.url, timeout: 5 }]);
    const bare = await call('POST', '/api/rules/partner-in/test', { key: keys.operator });
    assert.equal(bare.status, 200, JSON.stringify(bare.body));
    assert.deepEqual([bare.body.event, bare.body.fields.path], ['upload', '/test/sample.txt']);
    const misses = await call('POST', '/api/rules/partner-in/test', {
      key: keys.operator,
      body: { user: 'alice', path: '/out/a.csv' },
    });
    assert.deepEqual([misses.body.fires, misses.body.wouldRun], [false, []]);
    assertProblem(
      await call('POST', '/api/rules/partner-in/test', { key: keys.operator, body: { event: 'nope' } }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    assert.equal(receiver.received.length, 0, 'a dry run sends nothing');

    const disabled = await call('POST', '/api/rules/partner-in/disable', { key: keys.admin });
    assert.equal(disabled.body.enabled, false);
    const enabled = await call('POST', '/api/rules/partner-in/enable', { key: keys.admin });
    assert.equal(enabled.body.enabled, true);

    const everything = JSON.stringify([
      (await call('GET', '/api/rules', { key: keys.admin })).body,
      (await call('GET', '/api/openapi.json')).body,
      await api.adminRecords(),
    ]);
    assert.equal(everything.includes(SECRET), false, 'the secret is never shown or recorded');
    assert.equal(everything.includes(NEW_SECRET), false);
    const records = await api.adminRecords();
    const commands = records
      .filter((r: { target: string }) => r.target === 'rule partner-in')
      .map((r: { detail: { command: string }; actor: string }) => `${r.detail.command} ${r.actor}`);
    assert.deepEqual(commands, [
      'rules add api:admin-key',
      'rules set api:admin-key',
      'rules set api:admin-key',
      'rules disable api:admin-key',
      'rules enable api:admin-key',
    ]);
  });

  test('an OpenSSH upload is delivered, goes dead at a refusing receiver, and is redelivered by an operator', async () => {
    await api.server.running.automation.refresh();
    await writeFile(join(work, 'invoice.csv'), 'id,amount\n1,100\n');
    const put = await sftpBatch({
      port: api.server.port,
      user: 'alice',
      password: PASSWORD,
      batch: 'put invoice.csv /in/invoice.csv\n',
      cwd: work,
    });
    assert.equal(put.code, 0, put.stderr);
    let dead: { id: string; status: string } | undefined;
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      const list = await call('GET', '/api/deliveries?rule=partner-in&status=dead', { key: keys.operator });
      dead = list.body.items[0];
      if (dead) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(dead, 'the delivery went dead');
    const one = await call('GET', `/api/deliveries/${dead.id}`, { key: keys.operator });
    assert.equal(one.body.fields.path, '/in/invoice.csv');
    assert.deepEqual(
      one.body.history.map((a: { ok: boolean; responseCode: number }) => [a.ok, a.responseCode]),
      [[false, 503]],
    );
    const failed = await call('GET', '/api/deliveries?failed=true', { key: keys.operator });
    assert.deepEqual(
      failed.body.items.map((d: { id: string }) => d.id),
      [dead.id],
    );
    assertProblem(
      await call('GET', '/api/deliveries?status=lost', { key: keys.operator }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    assertProblem(
      await call('POST', `/api/deliveries/${dead.id}/redeliver`, { key: keys.auditor }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(
      await call('POST', '/api/deliveries/no-such-id/redeliver', { key: keys.operator }),
      404,
      'ERR_NOT_FOUND',
    );
    const before = receiver.received.length;
    const again = await call('POST', `/api/deliveries/${dead.id}/redeliver`, { key: keys.operator });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.id, dead.id);
    // Delivered again (refused again) with the same idempotency id.
    const until = Date.now() + 30_000;
    while (receiver.received.length === before && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(receiver.received.at(-1)?.id, dead.id);
    assert.ok(receiver.received.every((r) => r.verified));
    const records = await api.adminRecords();
    assert.ok(
      records.some(
        (r: { target: string; actor: string }) =>
          r.target === `delivery ${dead.id}` && r.actor === 'api:operator-key',
      ),
      'the redelivery is audited as the operator key',
    );

    assert.equal((await call('DELETE', '/api/rules/partner-in', { key: keys.admin })).status, 204);
    assert.deepEqual(await ruleNames(), []);
    const kept = await call('GET', '/api/deliveries', { key: keys.operator });
    assert.deepEqual(
      kept.body.items.map((d: { id: string; rule: string }) => `${d.rule} ${d.id}`),
      [`(removed rule 1) ${dead.id}`],
      'past deliveries stay listed, named after the removed rule',
    );
    assertProblem(
      await call('POST', `/api/deliveries/${dead.id}/redeliver`, { key: keys.admin }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
  });
});
