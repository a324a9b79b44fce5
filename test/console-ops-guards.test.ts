// The console's partners and jobs pages checked like an attacker, over plain HTTP against a real server: an
// auditor gets no form and no change, a form without its CSRF field changes nothing, names and fields with markup
// are shown as text, and every page needs a console session. The pages used as meant: console-ops.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { assertNoInlineCode, ConsoleBrowser, changeForms, csrfOf } from './helpers/console-http.js';
import { type OpsFixture, said, startOpsFixture, XSS } from './helpers/console-ops-fixture.js';
import { addSelfPartnerAndJob } from './helpers/console-ops-partner.js';
import type { TestServer } from './helpers/server.js';

let fx: OpsFixture;
let server: TestServer;
let outbox: string;
let base: string;
const olga = () => fx.signedIn('olga');
const audrey = () => fx.signedIn('audrey');
const ada = () => fx.signedIn('ada');

before(async () => {
  fx = await startOpsFixture();
  ({ server, outbox, base } = fx);
  // The partner and job these pages are tried on (console-ops.test.ts makes them through the console).
  await addSelfPartnerAndJob(fx);
});

after(async () => {
  await fx?.close();
});

describe('console: partners and jobs', () => {
  test('an auditor is offered no change and cannot make one', async () => {
    const b = await audrey();
    for (const path of [
      '/console/partners',
      '/console/jobs',
      '/console/partners/self',
      '/console/partners/self/hostkey',
      '/console/jobs/push-invoices',
    ]) {
      const page = await b.get(path);
      assertNoInlineCode(page);
      assert.deepEqual(changeForms(page), [], path);
      assert.match(said(page), /role auditor may not (partners|jobs) read/, path);
    }
    const csrf = csrfOf(await b.get('/console/partners'));
    const tries: [string, Record<string, string>][] = [
      ['/console/partners', { name: 'evil', host: 'h', user: 'u', password: 'p' }],
      [
        '/console/partners/self/trust',
        { algorithm: 'ssh-ed25519', sha256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      ],
      ['/console/partners/self/remove', {}],
      ['/console/jobs/push-invoices/run', {}],
      ['/console/jobs/push-invoices/remove', {}],
    ];
    const runs = (await server.running.context.admin.jobs.history('push-invoices', 100)).length;
    for (const [path, form] of tries) {
      const page = await b.submit(path, { _csrf: csrf, ...form });
      assert.match(said(page), /role auditor may not/, path);
    }
    await assert.rejects(server.running.context.admin.partners.get('evil'));
    assert.notEqual(
      (await server.running.context.admin.partners.get('self')).hostKeySha256,
      'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    );
    assert.equal((await server.running.context.admin.jobs.history('push-invoices', 100)).length, runs);
    await server.running.context.admin.jobs.get('push-invoices');
  });

  test('a form posted without its CSRF field is refused by the API and changes nothing', async () => {
    const b = await ada();
    const runs = (await server.running.context.admin.jobs.history('push-invoices', 100)).length;
    const tries: [string, Record<string, string>][] = [
      ['/console/partners', { name: 'forged', host: 'h.example', user: 'u', password: 'p' }],
      ['/console/partners/self', { host: 'elsewhere.example', user: 'dave' }],
      [
        '/console/partners/self/trust',
        { algorithm: 'ssh-ed25519', sha256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      ],
      [
        '/console/jobs',
        { name: 'forged', partner: 'self', direction: 'push', remoteDir: '/', localDir: outbox },
      ],
      ['/console/jobs/push-invoices/run', {}],
      ['/console/jobs/push-invoices', { schedule: '* * * * *' }],
      ['/console/jobs/push-invoices/remove', {}],
    ];
    for (const [path, form] of tries) {
      const page = await b.submit(path, form);
      assert.match(page.text, /missing or wrong x-csrf-token header/, path);
    }
    await assert.rejects(server.running.context.admin.partners.get('forged'));
    assert.equal((await server.running.context.admin.partners.get('self')).host, '127.0.0.1');
    await assert.rejects(server.running.context.admin.jobs.get('forged'));
    assert.equal((await server.running.context.admin.jobs.history('push-invoices', 100)).length, runs);
    assert.equal((await server.running.context.admin.jobs.get('push-invoices')).schedule, null);
    // And a wrong token is no better than none.
    const wrong = await b.submit('/console/partners/self/remove', { _csrf: 'x'.repeat(43) });
    assert.match(said(wrong), /missing or wrong x-csrf-token header/);
    await server.running.context.admin.partners.get('self');
  });

  test('names and fields with markup are shown as text, never run', async () => {
    const b = await olga();
    const csrf = csrfOf(await b.get('/console/partners'));
    // Names with markup are refused by the API; the refusal and the form filled in again show them escaped.
    const partner = await b.request('POST', '/console/partners', {
      _csrf: csrf,
      name: XSS,
      host: XSS,
      user: XSS,
      password: 'p',
    });
    const job = await b.request('POST', '/console/jobs', {
      _csrf: csrf,
      name: XSS,
      partner: 'self',
      direction: 'push',
      remoteDir: XSS,
      localDir: XSS,
      pattern: XSS,
    });
    for (const page of [partner, job]) {
      assert.equal(page.status, 400, page.text);
      assertNoInlineCode(page);
      assert.ok(page.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
      assert.ok(!page.text.includes(XSS));
    }
    // Fields the API stores as they are (a user name at a partner, a remote folder, a pattern) come back
    // escaped on every page that shows them.
    const partners = server.running.context.admin.partners;
    await partners.add(cliActor(), {
      name: 'marked',
      host: 'h.example',
      user: XSS,
      password: new Secret('p'),
    });
    await server.running.context.admin.jobs.add(cliActor(), {
      name: 'marked-job',
      partner: 'marked',
      direction: 'push',
      remoteDir: `/${XSS}`,
      localDir: outbox,
      pattern: '<i>*.csv',
    });
    for (const [who, path] of [
      [b, '/console/partners'],
      [b, '/console/partners/marked'],
      [b, '/console/jobs'],
      [b, '/console/jobs/marked-job'],
      [await ada(), '/console/jobs/marked-job'],
    ] as const) {
      const page = await who.get(path);
      assert.equal(page.status, 200, path);
      assertNoInlineCode(page);
      assert.ok(page.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), path);
      assert.ok(!page.text.includes(XSS), path);
      assert.ok(!page.text.includes('<i>*.csv'), path);
    }
  });

  test('every page needs a console session, and unknown names are clear errors', async () => {
    const anon = new ConsoleBrowser(base);
    for (const path of [
      '/console/partners',
      '/console/partners/self/hostkey',
      '/console/jobs',
      '/console/jobs/push-invoices/runs/1',
    ]) {
      const page = await anon.get(path);
      assert.equal(page.status, 303, path);
      assert.equal(page.location, '/console/login?ended=1');
    }
    const b = await olga();
    for (const [path, message] of [
      ['/console/partners/nobody', /partner named nobody/],
      ['/console/jobs/nobody', /job named nobody/],
      ['/console/jobs/push-invoices/runs/999999', /has no run 999999/],
    ] as const) {
      const page = await b.get(path);
      assert.equal(page.status, 404, path);
      assertNoInlineCode(page);
      assert.match(said(page), message, path);
    }
    const badCursor = await b.get('/console/partners?cursor=');
    assert.equal(badCursor.status, 200);
    const garbage = await b.get('/console/jobs/push-invoices?cursor=garbage');
    assert.match(said(garbage), /cursor/);
  });
});
