// The console's partners and jobs pages over plain HTTP, as a browser without JavaScript uses them, against a
// real server whose own SFTP port is the partner: add a partner and trust its host key in the dialog (both
// fingerprints shown), page through partners, define and run a push job and read its history down to each file;
// roles, CSRF, HTML escaping and the CSP checked like an attacker. Rules and deliveries: console-rules.test.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import {
  assertNoInlineCode,
  ConsoleBrowser,
  changeForms,
  csrfOf,
  type Page,
} from './helpers/console-http.js';
import { type OpsFixture, said, startOpsFixture, XSS } from './helpers/console-ops-fixture.js';
import type { TestServer } from './helpers/server.js';

let fx: OpsFixture;
let server: TestServer;
let work: string;
let outbox: string;
let base: string;
const olga = () => fx.signedIn('olga');
const audrey = () => fx.signedIn('audrey');
const ada = () => fx.signedIn('ada');

/** What the dialog's "Trust this key" button would pin: its hidden fields. */
function confirmed(page: Page): { algorithm: string; sha256: string } {
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page.text)?.[1] ?? '';
  return { algorithm: field('algorithm'), sha256: field('sha256') };
}

/** The SFTP host key the server presents, as the API's store pins it ("ALG SHA256:..."). */
async function hostKeyOfServer(): Promise<string> {
  const reply = await server.running.context.admin.partners.presentedHostKey('self');
  return `${reply.algorithm} ${reply.sha256}`;
}

before(async () => {
  fx = await startOpsFixture();
  ({ server, work, outbox, base } = fx);
});

after(async () => {
  await fx?.close();
});

describe('console: partners and jobs', () => {
  test('an operator adds a partner and trusts its host key in the dialog that shows both fingerprints', async () => {
    const b = await olga();
    const list = await b.get('/console/partners');
    assert.equal(list.status, 200);
    assertNoInlineCode(list);
    assert.match(list.text, /No partners yet/);
    assert.match(list.text, /<label for="host">Host/);
    const dialog = await b.submit('/console/partners', {
      _csrf: csrfOf(list),
      name: 'self',
      protocol: 'sftp',
      host: '127.0.0.1',
      port: String(server.port),
      user: 'dave',
      password: 'dave-password-1',
      algorithms: 'modern',
      renameUploads: 'on',
    });
    assert.equal(dialog.status, 200, dialog.text);
    assertNoInlineCode(dialog);
    assert.match(said(dialog), /Added partner self/);
    const presented = await hostKeyOfServer();
    // Both fingerprints: the one the server presents now, and the stored one (none yet).
    assert.match(dialog.text, /<dialog open class="modal"/);
    assert.ok(dialog.text.includes(`<dd id="fp-presented"><code>${presented}</code>`), dialog.text);
    assert.match(dialog.text, /<dd id="fp-stored"><span class="badge off">none: never trusted/);
    assert.equal(
      (await server.running.context.admin.partners.get('self')).hostKeySha256,
      null,
      'nothing is trusted before the confirm button',
    );
    const [algorithm, sha256] = presented.split(' ') as [string, string];
    // The confirm button posts the key the dialog showed, not one fetched again later.
    assert.deepEqual(confirmed(dialog), { algorithm, sha256 });
    const trusted = await b.submit('/console/partners/self/trust', {
      _csrf: csrfOf(dialog),
      ...confirmed(dialog),
    });
    assert.equal(said(trusted), `Trusted ${presented} for self.`);
    assert.equal((await server.running.context.admin.partners.get('self')).hostKeySha256, sha256);

    // A stale pin: the dialog shows both, different, and says the key changed; confirming pins the new one.
    await server.running.context.admin.partners.trust(cliActor(), {
      name: 'self',
      algorithm,
      sha256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    const changed = await b.get('/console/partners/self/hostkey');
    assert.ok(changed.text.includes(`<dd id="fp-presented"><code>${presented}</code>`));
    assert.ok(
      changed.text.includes(
        `<dd id="fp-stored"><code>${algorithm} SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</code>`,
      ),
    );
    assert.match(changed.text, /The key has CHANGED/);
    assert.deepEqual(confirmed(changed), { algorithm, sha256 }, 'the key presented now, not the stored one');
    await b.submit('/console/partners/self/trust', { _csrf: csrfOf(changed), ...confirmed(changed) });
    const same = await b.get('/console/partners/self/hostkey');
    assert.match(same.text, /presents the key you trust/);
    assert.doesNotMatch(same.text, /Trust this key/, 'nothing to confirm when the key is the trusted one');

    // Edit: the form carries every field; the same address keeps the pin.
    const edit = await b.get('/console/partners/self');
    assertNoInlineCode(edit);
    assert.match(edit.text, /id="host" name="host" type="text" value="127.0.0.1"/);
    const saved = await b.submit('/console/partners/self', {
      _csrf: csrfOf(edit),
      protocol: 'sftp',
      host: '127.0.0.1',
      port: String(server.port),
      user: 'dave',
      algorithms: 'modern',
      renameUploads: 'on',
      readBack: 'on',
    });
    assert.equal(said(saved), 'Saved self.');
    const after = await server.running.context.admin.partners.get('self');
    assert.deepEqual(
      [after.readBack, after.hostKeySha256, after.passwordSealed !== null],
      [true, sha256, true],
    );
    const refused = await b.submit('/console/partners/self', {
      _csrf: csrfOf(edit),
      host: '127.0.0.1',
      user: 'dave',
      port: '99999',
    });
    assert.match(said(refused), /port/i);
    assert.equal(
      (await server.running.context.admin.partners.get('self')).port,
      server.port,
      'nothing changed',
    );
  });

  test('partners page through the API cursor; a refused form comes back filled in, with the reason', async () => {
    const partners = server.running.context.admin.partners;
    for (let i = 0; i < 50; i++)
      await partners.add(cliActor(), {
        name: `p${String(i).padStart(2, '0')}`,
        host: 'h.example',
        user: 'u',
        password: new Secret('x'),
      });
    const b = await olga();
    const first = await b.get('/console/partners');
    assert.equal([...first.text.matchAll(/<td class="name">/g)].length, 50);
    const next = /<a href="(\/console\/partners\?sort=name&amp;cursor=[^"]+)" rel="next">Next page/.exec(
      first.text,
    );
    assert.ok(next, 'a next page link');
    const second = await b.get(next[1]!.replaceAll('&amp;', '&'));
    assert.equal([...second.text.matchAll(/<td class="name">/g)].length, 1);
    assert.match(second.text, /<a href="\/console\/partners\/self">self<\/a>/);
    assert.match(second.text, /First page/);
    assert.doesNotMatch(second.text, /rel="next"/);

    const bad = await b.request('POST', '/console/partners', {
      _csrf: csrfOf(first),
      name: 'half',
      host: 'sftp.example',
      user: 'x',
      port: 'twenty-two',
      password: 'never-shown-again',
    });
    assert.equal(bad.status, 400);
    assert.match(said(bad), /port/);
    assert.match(bad.text, /<details class="create" open>/);
    assert.match(bad.text, /id="host" name="host" type="text" value="sftp.example"/);
    assert.doesNotMatch(bad.text, /never-shown-again/);
    await assert.rejects(partners.get('half'));
    for (let i = 0; i < 50; i++) await partners.remove(cliActor(), `p${String(i).padStart(2, '0')}`);
  });

  test('an operator defines a push job, runs it now, and reads the run with its per-file result in the history', async () => {
    const b = await olga();
    const list = await b.get('/console/jobs');
    assertNoInlineCode(list);
    assert.match(list.text, /No jobs yet/);
    assert.match(list.text, /<option value="self">self<\/option>/, 'partners offered by name');
    const defined = await b.submit('/console/jobs', {
      _csrf: csrfOf(list),
      name: 'push-invoices',
      partner: 'self',
      direction: 'push',
      remoteDir: '/',
      localDir: outbox,
      pattern: '*.csv',
      retries: '0',
    });
    assert.equal(said(defined), 'Defined job push-invoices.');
    assert.match(defined.text, /This job has not run yet/);
    const ran = await b.submit('/console/jobs/push-invoices/run', { _csrf: csrfOf(defined), back: 'job' });
    assertNoInlineCode(ran);
    const m = /Run (\d+) of push-invoices succeeded: 1 file, 15 bytes\./.exec(said(ran));
    assert.ok(m, said(ran));
    assert.equal(
      await readFile(join(await server.homeOf('dave'), 'invoice.csv'), 'utf8'),
      'id,amount\n1,42\n',
    );
    assert.match(ran.text, new RegExp(`<a href="/console/jobs/push-invoices/runs/${m[1]}">#${m[1]}</a>`));
    const run = await b.get(`/console/jobs/push-invoices/runs/${m[1]}`);
    assertNoInlineCode(run);
    assert.match(run.text, /<td class="name">invoice\.csv<\/td><td>15<\/td>/);
    assert.match(run.text, /<span class="badge on">ok<\/span>/);

    // A run that fails shows its error in the history and on the run's page.
    const failing = await b.submit('/console/jobs', {
      _csrf: csrfOf(list),
      name: 'pull-missing',
      partner: 'self',
      direction: 'pull',
      remoteDir: '/no-such-folder',
      localDir: join(work, 'in'),
      retries: '0',
    });
    assert.equal(said(failing), 'Defined job pull-missing.');
    const failed = await b.submit('/console/jobs/pull-missing/run', { _csrf: csrfOf(failing), back: 'job' });
    const f = /Run (\d+) of pull-missing failed: (.+)/.exec(said(failed));
    assert.ok(f, said(failed));
    assert.match(failed.text, /<tr class="bad">/);
    const failedRun = await b.get(`/console/jobs/pull-missing/runs/${f[1]}`);
    assert.ok(failedRun.text.includes(`<p class="error run-error" role="alert">${f[2]}</p>`), failedRun.text);
    assert.match(failedRun.text, /No file was transferred in this run/);

    // Change the schedule; remove the failing job with its confirmation form.
    const job = await b.get('/console/jobs/pull-missing');
    const changed = await b.submit('/console/jobs/pull-missing', {
      _csrf: csrfOf(job),
      schedule: '0 3 * * *',
      retries: '2',
      backoff: '5',
    });
    assert.equal(said(changed), 'Saved pull-missing.');
    const stored = await server.running.context.admin.jobs.get('pull-missing');
    assert.deepEqual(
      [stored.schedule, stored.retries, stored.backoffMs, stored.enabled],
      ['0 3 * * *', 2, 5000, false],
    );
    assert.match(job.text, /class="confirm" data-confirm="Remove job pull-missing with its history\?"/);
    const removed = await b.submit('/console/jobs/pull-missing/remove', { _csrf: csrfOf(job) });
    assert.equal(said(removed), 'Removed job pull-missing.');
    await assert.rejects(server.running.context.admin.jobs.get('pull-missing'));
  });

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
