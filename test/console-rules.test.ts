// The console's rules and deliveries pages over plain HTTP, as a browser without JavaScript uses them, against a
// real server: import a rules file, turn a rule off and on, test it dry and for real against a real webhook
// receiver, a real upload (a push job to the server's own SFTP port) making a delivery that is filtered and
// redelivered; roles, CSRF, HTML escaping and the CSP checked like an attacker. Partners and jobs:
// console-ops.test.ts.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { assertNoInlineCode, ConsoleBrowser, changeForms, csrfOf } from './helpers/console-http.js';
import { type OpsFixture, SECRET, said, startOpsFixture, until, XSS } from './helpers/console-ops-fixture.js';
import { addSelfPartnerAndJob } from './helpers/console-ops-partner.js';
import type { TestServer } from './helpers/server.js';
import type { WebhookReceiver } from './helpers/webhook-receiver.js';

let fx: OpsFixture;
let server: TestServer;
let receiver: WebhookReceiver;
let outbox: string;
const ada = () => fx.signedIn('ada');
const olga = () => fx.signedIn('olga');
const audrey = () => fx.signedIn('audrey');

before(async () => {
  fx = await startOpsFixture();
  ({ server, receiver, outbox } = fx);
  // The partner (the server's own SFTP port, its key trusted) and the push job whose uploads fire the rules.
  await addSelfPartnerAndJob(fx);
});

after(async () => {
  await fx?.close();
});

describe('console: rules and deliveries', () => {
  test('an admin imports rules, turns one off and on, tests it dry and for real; deliveries filter and redeliver', async () => {
    const b = await ada();
    const list = await b.get('/console/rules');
    assertNoInlineCode(list);
    assert.match(list.text, /No rules yet/);
    const file = `rules:
  - name: notify-upload
    description: tell the ERP
    events: [upload]
    conditions: { paths: ['/**'] }
    actions:
      - { kind: webhook, url: '${receiver.url}' }
    maxAttempts: 1
    secret: ${SECRET}
`;
    const imported = await b.submit('/console/rules/import', { _csrf: csrfOf(list), file });
    assert.equal(said(imported), 'Imported: added notify-upload.');
    assert.match(
      imported.text,
      /<a href="\/console\/rules\/notify-upload">notify-upload<\/a><\/td><td><span class="badge on">on/,
    );
    const off = await b.submit('/console/rules/notify-upload/disable', { _csrf: csrfOf(list) });
    assert.equal(said(off), 'Disabled rule notify-upload.');
    assert.equal((await server.running.context.admin.rules.get('notify-upload')).enabled, false);
    await b.submit('/console/rules/notify-upload/enable', { _csrf: csrfOf(list) });
    assert.equal((await server.running.context.admin.rules.get('notify-upload')).enabled, true);

    const rule = await b.get('/console/rules/notify-upload');
    assertNoInlineCode(rule);
    const dry = await b.request('POST', '/console/rules/notify-upload/test', {
      _csrf: csrfOf(rule),
      mode: 'dry',
      event: 'upload',
      path: '/x.csv',
    });
    assert.match(dry.text, /The rule fires for this upload event/);
    assert.equal(receiver.received.length, 0, 'a dry run sends nothing');
    const run = await b.request('POST', '/console/rules/notify-upload/test', {
      _csrf: csrfOf(rule),
      mode: 'run',
      event: 'upload',
      path: '/x.csv',
      size: '7',
    });
    assertNoInlineCode(run);
    // The receiver's first answer is 500: the run shows the action failed, with the response code.
    assert.match(
      run.text,
      /<td>1<\/td><td>webhook<\/td><td><span class="badge off">failed<\/span><\/td>\s*<td>500<\/td>/,
    );
    assert.equal(receiver.received.length, 1);

    // A real upload (the job's push over SFTP) fires the rule: one delivery, answered 200, succeeded.
    const jobs = await b.get('/console/jobs');
    await writeFile(join(outbox, 'second.csv'), 'id\n2\n');
    // Every process reloads its rules within a second of a change; this one now (as other rule tests do).
    await server.running.automation.refresh();
    const pushed = await b.submit('/console/jobs/push-invoices/run', { _csrf: csrfOf(jobs) });
    assert.match(said(pushed), /succeeded: 2 files/);
    const succeeded = await until('a succeeded delivery', async () => {
      const page = await b.get('/console/deliveries?status=succeeded');
      return page.text.includes('<span class="badge on">succeeded</span>') ? page : undefined;
    });
    assertNoInlineCode(succeeded);
    assert.match(succeeded.text, /second\.csv/);
    assert.match(succeeded.text, /invoice\.csv/);
    const dead = await b.get('/console/deliveries?status=dead');
    assert.match(dead.text, /No delivery matches/);
    const id = /action="\/console\/deliveries\/([^/"]+)\/redeliver"/.exec(succeeded.text)?.[1];
    assert.ok(id, 'a redeliver button');
    const received = receiver.received.length;
    const again = await b.submit(`/console/deliveries/${id}/redeliver`, {
      _csrf: csrfOf(succeeded),
      status: 'succeeded',
    });
    assert.equal(said(again), 'Queued again: action 1 of notify-upload, due now.');
    assert.match(again.text, /<option value="succeeded" selected>/, 'back on the same filtered list');
    await until('the redelivered webhook', async () =>
      receiver.received.length > received ? true : undefined,
    );

    const removed = await b.submit('/console/rules/notify-upload/remove', { _csrf: csrfOf(list) });
    assert.equal(said(removed), 'Removed rule notify-upload.');
  });

  test('an operator gets the forms the API allows: jobs and partners, redeliver and dry runs, but no rule changes', async () => {
    const admin = await ada();
    const rulesAsAdmin = await admin.get('/console/rules');
    await admin.submit('/console/rules/import', {
      _csrf: csrfOf(rulesAsAdmin),
      file: `rules:\n  - { name: watch, events: [download], actions: [{ kind: webhook, url: '${receiver.url}' }], secret: ${SECRET} }\n`,
    });
    const b = await olga();
    const rules = await b.get('/console/rules');
    assert.match(rules.text, /watch/);
    assert.deepEqual(changeForms(rules), []);
    const rule = await b.get('/console/rules/watch');
    assert.deepEqual(changeForms(rule), ['/console/rules/watch/test']);
    assert.match(rule.text, /Dry run/);
    assert.doesNotMatch(rule.text, /Run its actions now/);
    // The API decides anyway: an operator's import is refused and nothing is added.
    const refused = await b.request('POST', '/console/rules/import', {
      _csrf: csrfOf(rules),
      file: 'rules:\n  - { name: sneaky, events: [upload], actions: [{ kind: webhook, url: "http://127.0.0.1:9/" }], secret: x-long-enough-secret-1234 }\n',
    });
    assert.equal(refused.status, 403);
    assert.match(said(refused), /role operator may not rules write/, refused.text.slice(0, 3000));
    await assert.rejects(server.running.context.admin.rules.get('sneaky'));
    const deliveries = await b.get('/console/deliveries');
    assert.ok(changeForms(deliveries).every((a) => /^\/console\/deliveries\/[^/]+\/redeliver$/.test(a)));
    assert.ok(changeForms(deliveries).length > 0);
  });

  test('deliveries page through the API cursor, keeping the filter', async () => {
    // A rule on an event nothing here emits; 51 of its deliveries put in the outbox directly (the worker tries
    // them against a closed port meanwhile: their status moves, so the filter here is the rule).
    const admin = await ada();
    await admin.submit('/console/rules/import', {
      _csrf: csrfOf(await admin.get('/console/rules')),
      file: `rules:\n  - { name: many, enabled: false, events: [download], actions: [{ kind: webhook, url: 'http://127.0.0.1:9/' }], secret: ${SECRET} }\n`,
    });
    const store = server.running.context.store;
    const ruleId = (await store.rules.list()).find((r) => r.name === 'many')!.id;
    await store.deliveries.enqueue(
      Array.from({ length: 51 }, (_, i) => ({
        id: `many-${String(i).padStart(2, '0')}`,
        ruleId,
        actionIndex: 0,
        eventName: 'download',
        fields: { n: String(i) },
      })),
      new Date('2026-01-01T00:00:00.000Z'),
    );
    const b = await olga();
    const first = await b.get('/console/deliveries?rule=many');
    assert.equal([...first.text.matchAll(/<details><summary>attempts and fields/g)].length, 50);
    const next = /<a href="([^"]+)" rel="next">Next page/.exec(first.text)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(next, 'a next page link');
    assert.match(next, /^\/console\/deliveries\?rule=many&sort=-created&cursor=/);
    const second = await b.get(next);
    assert.equal([...second.text.matchAll(/<details><summary>attempts and fields/g)].length, 1);
    assert.match(second.text, /<input id="rule" name="rule" value="many">/);
    assert.doesNotMatch(second.text, /rel="next"/);
  });

  test('an auditor is offered no change and cannot make one', async () => {
    const b = await audrey();
    for (const path of ['/console/rules', '/console/rules/watch', '/console/deliveries']) {
      const page = await b.get(path);
      assertNoInlineCode(page);
      assert.deepEqual(changeForms(page), [], path);
      assert.match(said(page), /role auditor may not rules read/, path);
    }
    const csrf = csrfOf(await b.get('/console/rules'));
    const id = (await server.running.context.admin.rules.deliveries({ limit: 1 }))[0]?.delivery.id ?? 'none';
    const tries: [string, Record<string, string>][] = [
      [
        '/console/rules/import',
        {
          file: `rules:\n  - { name: evil, events: [upload], actions: [{ kind: webhook, url: '${receiver.url}' }], secret: ${SECRET} }\n`,
        },
      ],
      ['/console/rules/watch/disable', {}],
      ['/console/rules/watch/remove', {}],
      ['/console/rules/watch/test', { mode: 'run' }],
      [`/console/deliveries/${id}/redeliver`, {}],
    ];
    const received = receiver.received.length;
    for (const [path, form] of tries) {
      const page = await b.submit(path, { _csrf: csrf, ...form });
      assert.match(said(page), /role auditor may not/, path);
    }
    await assert.rejects(server.running.context.admin.rules.get('evil'));
    assert.equal((await server.running.context.admin.rules.get('watch')).enabled, true);
    assert.equal(receiver.received.length, received, 'nothing was sent');
  });

  test('a form posted without its CSRF field is refused by the API and changes nothing', async () => {
    const b = await ada();
    const id = (await server.running.context.admin.rules.deliveries({ limit: 1 }))[0]?.delivery.id ?? 'none';
    const received = receiver.received.length;
    const tries: [string, Record<string, string>][] = [
      [
        '/console/rules/import',
        {
          file: `rules:\n  - { name: forged, events: [upload], actions: [{ kind: webhook, url: '${receiver.url}' }], secret: ${SECRET} }\n`,
        },
      ],
      ['/console/rules/watch/disable', {}],
      ['/console/rules/watch/remove', {}],
      ['/console/rules/watch/test', { mode: 'run', event: 'download' }],
      [`/console/deliveries/${id}/redeliver`, {}],
    ];
    for (const [path, form] of tries) {
      const page = await b.submit(path, form);
      assert.match(page.text, /missing or wrong x-csrf-token header/, path);
    }
    await assert.rejects(server.running.context.admin.rules.get('forged'));
    assert.equal((await server.running.context.admin.rules.get('watch')).enabled, true);
    assert.equal(receiver.received.length, received, 'nothing was sent');
  });

  test('rule names and descriptions with markup are shown as text, never run', async () => {
    const admin = await ada();
    // A name with markup is refused by the API; the refusal and the file filled in again show it escaped.
    const refused = await admin.request('POST', '/console/rules/import', {
      _csrf: csrfOf(await admin.get('/console/rules')),
      file: `rules:\n  - { name: '${XSS}', events: [upload], actions: [{ kind: webhook, url: '${receiver.url}' }], secret: ${SECRET} }\n`,
    });
    assert.equal(refused.status, 400, refused.text);
    // A description is stored as it is, and comes back escaped on every page that shows it.
    await server.running.context.admin.rules.import(
      cliActor(),
      JSON.stringify([
        {
          name: 'marked-rule',
          description: XSS,
          events: ['download'],
          actions: [{ kind: 'webhook', url: receiver.url }],
          secret: SECRET,
        },
      ]),
      { format: 'json', source: 'test', secrets: 'inline' },
    );
    const pages = [refused, await admin.get('/console/rules'), await admin.get('/console/rules/marked-rule')];
    for (const page of pages) {
      assertNoInlineCode(page);
      assert.ok(page.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
      assert.ok(!page.text.includes(XSS));
    }
  });

  test('every page needs a console session, and bad input is a clear error', async () => {
    const anon = new ConsoleBrowser(fx.base);
    for (const path of ['/console/rules', '/console/rules/watch', '/console/deliveries']) {
      const page = await anon.get(path);
      assert.equal(page.status, 303, path);
      assert.equal(page.location, '/console/login?ended=1');
    }
    const b = await olga();
    const missing = await b.get('/console/rules/nobody');
    assert.match(said(missing), /nobody/);
    const badCursor = await b.get('/console/deliveries?cursor=garbage');
    assertNoInlineCode(badCursor);
    assert.match(said(badCursor), /cursor: not a cursor this API returned/);
    const badStatus = await b.get('/console/deliveries?status=lost');
    assert.match(said(badStatus), /status/);
  });
});
